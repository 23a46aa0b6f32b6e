package engine

import (
	"errors"
	"fmt"

	"github.com/datastax/go-cassandra-native-protocol/message"
)

// ErrorCode classifies a CQL error; each maps to one protocol error type.
type ErrorCode int

// Error classes the engine reports.
const (
	CodeInvalid ErrorCode = iota
	CodeSyntax
	CodeAlreadyExists
	CodeConfig
	CodeServer
)

// Error is a CQL-level error: bad input or an unsupported statement.
type Error struct {
	Code     ErrorCode
	Msg      string
	Keyspace string // AlreadyExists only
	Table    string // AlreadyExists only
}

// Error returns the message sent to the client.
func (e *Error) Error() string { return e.Msg }

func invalidf(format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Msg: fmt.Sprintf(format, args...)}
}

func syntaxf(format string, args ...any) *Error {
	return &Error{Code: CodeSyntax, Msg: fmt.Sprintf(format, args...)}
}

func configf(format string, args ...any) *Error {
	return &Error{Code: CodeConfig, Msg: fmt.Sprintf(format, args...)}
}

// unsupported reports CQL that is valid but that miniscylla does not implement.
func unsupported(format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Msg: "not supported by miniscylla: " + fmt.Sprintf(format, args...)}
}

func alreadyExists(ks, table string) *Error {
	msg := fmt.Sprintf("Cannot add already existing keyspace %q", ks)
	if table != "" {
		msg = fmt.Sprintf("Cannot add already existing table %q to keyspace %q", table, ks)
	}
	return &Error{Code: CodeAlreadyExists, Msg: msg, Keyspace: ks, Table: table}
}

func unconfiguredTable(ks, table string) *Error {
	return invalidf("unconfigured table %s.%s", ks, table)
}

func undefinedColumn(name string) *Error {
	return invalidf("Undefined column name %s", name)
}

// toMessage converts any error into a protocol error message.
func toMessage(err error) message.Message {
	var e *Error
	if !errors.As(err, &e) {
		return &message.ServerError{ErrorMessage: err.Error()}
	}
	switch e.Code {
	case CodeSyntax:
		return &message.SyntaxError{ErrorMessage: e.Msg}
	case CodeAlreadyExists:
		return &message.AlreadyExists{ErrorMessage: e.Msg, Keyspace: e.Keyspace, Table: e.Table}
	case CodeConfig:
		return &message.ConfigError{ErrorMessage: e.Msg}
	case CodeServer:
		return &message.ServerError{ErrorMessage: e.Msg}
	}
	return &message.Invalid{ErrorMessage: e.Msg}
}
