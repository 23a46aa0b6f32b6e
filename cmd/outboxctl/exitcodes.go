package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/outboxnode/outbox/infra/cliflags"
)

// Exit codes of every outboxctl command: exitCodes below describes them,
// for -h and docs/operations.md, and exitCodeOf picks one for an error.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitPartial     = 4
)

// exitCodes is the one table of outboxctl's exit codes.
var exitCodes = []struct {
	code    int
	meaning string
}{
	{exitOK, "done: the command did what it was asked"},
	{exitFailed, "failed: the node rejected the command (reason on stderr), health is not ok, or the command failed"},
	{exitUsage, "usage: bad command line, or --listen cannot be used; nothing was sent"},
	{exitUnreachable, "unreachable: no node answered, or no reply within --timeout (a command may still be applied)"},
	{exitPartial, "partial: some of the work failed (dlq replay whose events failed again)"},
}

// exitCodeHelp renders exitCodes for -h.
func exitCodeHelp() string {
	var b strings.Builder
	b.WriteString("Exit codes:")
	for _, c := range exitCodes {
		fmt.Fprintf(&b, "\n  %d  %s", c.code, c.meaning)
	}
	return b.String()
}

// partialError is a command that did part of its work.
type partialError struct{ msg string }

func (e *partialError) Error() string { return e.msg }

// exitCodeOf returns the exit code of a command that ended with err.
func exitCodeOf(err error) int {
	var (
		usage       *cliflags.UsageError
		unreachable *UnreachableError
		partial     *partialError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage):
		return exitUsage
	case errors.As(err, &unreachable):
		return exitUnreachable
	case errors.As(err, &partial):
		return exitPartial
	}
	return exitFailed
}
