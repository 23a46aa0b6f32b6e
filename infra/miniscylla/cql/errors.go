package cql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SyntaxError is malformed CQL. Line is 1-based and Column 0-based (in
// characters), as in ScyllaDB's (ANTLR's) messages; Token is the offending
// input ("<EOF>" at the end). The engine answers it with the protocol's SYNTAX error.
type SyntaxError struct {
	Line   int
	Column int
	Token  string
	msg    string
}

// Error formats the error like ScyllaDB, e.g.
// "line 1:9 no viable alternative at input 'FORM'".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d:%d %s", e.Line, e.Column, e.msg)
}

// UnsupportedError is valid CQL that miniscylla deliberately does not
// implement (CREATE INDEX, roles, ...). The engine answers it with the
// protocol's INVALID error.
type UnsupportedError struct {
	What string
}

// Error returns "not supported by miniscylla: <what>".
func (e *UnsupportedError) Error() string {
	return "not supported by miniscylla: " + e.What
}

// maxTokenText bounds the offending input quoted in an error message.
const maxTokenText = 40

// newSyntaxError builds a SyntaxError at byte offset pos of src.
func newSyntaxError(src string, pos int, msg string) *SyntaxError {
	line := 1 + strings.Count(src[:pos], "\n")
	col := utf8.RuneCountInString(src[strings.LastIndexByte(src[:pos], '\n')+1 : pos])
	return &SyntaxError{Line: line, Column: col, msg: msg}
}

// newLexError reports that no token starts at pos: an unterminated quote
// (quoted up to the end of the line) or a stray character (quoted alone).
func newLexError(src string, pos int, unterminated bool) *SyntaxError {
	end := pos
	if unterminated {
		end = min(pos+maxTokenText, len(src))
		if nl := strings.IndexByte(src[pos:end], '\n'); nl >= 0 {
			end = pos + nl
		}
	} else {
		_, size := utf8.DecodeRuneInString(src[pos:])
		end += size
	}
	e := newSyntaxError(src, pos, "token recognition error at: '"+src[pos:end]+"'")
	e.Token = src[pos:end]
	return e
}

// InvalidError is syntactically valid CQL that no server would accept, such
// as a column list and a value list of different lengths or a table with two
// primary keys. The engine answers it with the protocol's INVALID error.
type InvalidError struct {
	Msg string
}

// Error returns the message.
func (e *InvalidError) Error() string { return e.Msg }
