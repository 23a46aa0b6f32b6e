package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/actors/admission"
)

func noEnv(string) string { return "" }

// closedAddr returns a loopback address with nothing listening.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// uuidArg is a well-formed order id for command lines that fail before sending.
const uuidArg = "0b9f4f8e-3c1a-4c52-9a53-8d0a6d1f2e44"

func TestRunExitCodes(t *testing.T) {
	down := closedAddr(t)
	tests := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"no command", nil, exitUsage, "missing command"},
		{"unknown command", []string{"order", "explode"}, exitUsage, `order: unknown command "explode"`},
		{"no subcommand", []string{"dlq"}, exitUsage, "dlq: missing command, want one of list, replay, skip"},
		{"bad global flag", []string{"--bogus"}, exitUsage, "not defined: -bogus"},
		{"bad flag after the command", []string{"health", "--bogus"}, exitUsage, "health: flag provided but not defined: -bogus"},
		{"bad output", []string{"-o", "yaml", "health"}, exitUsage, "want text or json"},
		{"empty remote addr", []string{"--remote-addr", "", "health"}, exitUsage, "--remote-addr is empty"},
		{"missing order id", []string{"order", "get"}, exitUsage, "want ORDER_ID"},
		{"two order ids", []string{"order", "cancel", "a", "b"}, exitUsage, "want ORDER_ID"},
		{"malformed item", []string{"order", "create", "--item", "sku-without-qty"}, exitUsage, "--item: want SKU:QTY"},
		{"non-numeric quantity", []string{"order", "create", "--item", "a:many"}, exitUsage, "whole number"},
		{"replay needs a target", []string{"dlq", "replay"}, exitUsage, "EVENT_ID or --all"},
		{"replay id and all", []string{"dlq", "replay", "x", "--all"}, exitUsage, "EVENT_ID or --all, not both"},
		{"replay two ids", []string{"dlq", "replay", "x", "y"}, exitUsage, "want one EVENT_ID or --all, got 2"},
		{"stray argument", []string{"dlq", "list", "extra"}, exitUsage, `dlq list: takes no arguments, got ["extra"]`},
		{"negative limit", []string{"events", "--limit", "-3"}, exitUsage, `invalid value "-3" for flag -limit`},
		{"zero timeout", []string{"--timeout", "0s", "health"}, exitUsage, "--timeout must be positive"},
		{"bad listen", []string{"--remote-addr", down, "--listen", "nohost", "health"}, exitUsage, `--listen "nohost" is not host:port`},
		{"bad listen port", []string{"--remote-addr", down, "--listen", "127.0.0.1:http", "health"}, exitUsage, "bad port"},
		{"negative since", []string{"events", "--since", "-1m"}, exitUsage, "negative"},
		{"non-UTF-8 customer", []string{"--remote-addr", down, "order", "create", "--customer", "bob\xff", "--amount", "1"}, exitUsage, `argument 6 ("bob\xff", 4 bytes) is not valid UTF-8`},
		{"non-UTF-8 flag value joined", []string{"--remote-addr", down, "order", "cancel", "--reason=\xc3", uuidArg}, exitUsage, "not valid UTF-8"},
		{"long non-UTF-8 argument", []string{"--remote-addr", down, "order", "get", strings.Repeat("a", 500) + "\xfe"}, exitUsage, "501 bytes) is not valid UTF-8"},
		{"unreachable", []string{"--remote-addr", down, "--timeout", "1s", "order", "create", "--customer", "a", "--amount", "1"}, exitUnreachable, "unreachable"},
		{"unreachable flags after command", []string{"health", "--remote-addr", down}, exitUnreachable, down},
		{"top zero interval", []string{"top", "--interval", "0s"}, exitUsage, "--interval must be positive"},
		{"top negative count", []string{"top", "--count", "-1"}, exitUsage, "--count must not be negative"},
		{"top metrics not a URL", []string{"top", "--metrics", "127.0.0.1:9090"}, exitUsage, `--metrics "127.0.0.1:9090" is not an http(s) URL`},
		{"top stray argument", []string{"top", "now"}, exitUsage, "takes no arguments"},
		{"top node unreachable", []string{"--remote-addr", down, "--timeout", "1s", "top", "--count", "1"}, exitUnreachable, "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, noEnv, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.inStderr) {
				t.Fatalf("stderr lacks %q:\n%s", tt.inStderr, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout %q, want nothing on a failure", stdout.String())
			}
		})
	}
}

// TestRemoteAddrEnv checks that OUTBOX_REMOTE_ADDR picks the node and that
// --remote-addr wins over it, before or after the command words.
func TestRemoteAddrEnv(t *testing.T) {
	fromEnv, fromFlag := closedAddr(t), closedAddr(t)
	env := func(k string) string {
		if k == "OUTBOX_REMOTE_ADDR" {
			return fromEnv
		}
		return ""
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"health"}, fromEnv},
		{[]string{"--remote-addr", fromFlag, "health"}, fromFlag},
		{[]string{"health", "--remote-addr", fromFlag}, fromFlag},
	} {
		var stderr bytes.Buffer
		code := run(tc.args, env, &bytes.Buffer{}, &stderr)
		if code != exitUnreachable || !strings.Contains(stderr.String(), "node "+tc.want+" unreachable") {
			t.Errorf("%q: exit %d, stderr %q; want unreachable %s", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestEnvOfEveryGlobalFlag checks the OUTBOX_* name of each global flag, as
// -h shows them, and that a bad value from the environment is a usage error.
func TestEnvOfEveryGlobalFlag(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"-h"}, noEnv, &stdout, &bytes.Buffer{}); code != exitOK {
		t.Fatalf("-h exit %d", code)
	}
	for _, v := range []string{"OUTBOX_REMOTE_ADDR", "OUTBOX_OUTPUT", "OUTBOX_TIMEOUT", "OUTBOX_LISTEN",
		"OUTBOX_REMOTE_TLS_CERT", "OUTBOX_REMOTE_TLS_KEY", "OUTBOX_REMOTE_TLS_CA"} {
		if !strings.Contains(stdout.String(), "[$"+v+"]") {
			t.Errorf("-h does not show %s:\n%s", v, stdout.String())
		}
	}
	var stderr bytes.Buffer
	code := run([]string{"health"}, func(k string) string {
		if k == "OUTBOX_TIMEOUT" {
			return "soon"
		}
		return ""
	}, &bytes.Buffer{}, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "soon") {
		t.Fatalf("OUTBOX_TIMEOUT=soon: exit %d, stderr %q; want a usage error", code, stderr.String())
	}
}

// TestHelpOfEveryCommand runs -h on every command of the tree: exit 0, the
// command's usage on stdout, nothing on stderr.
func TestHelpOfEveryCommand(t *testing.T) {
	var walk func(words []string, c *cli.Command)
	n := 0
	walk = func(words []string, c *cli.Command) {
		n++
		var stdout, stderr bytes.Buffer
		if code := run(append(slices.Clone(words), "-h"), noEnv, &stdout, &stderr); code != exitOK || stderr.Len() != 0 {
			t.Errorf("%q -h: exit %d, stderr %q", words, code, stderr.String())
		}
		if want := "outboxctl " + strings.Join(words, " "); !strings.Contains(stdout.String(), strings.TrimSpace(want)) {
			t.Errorf("%q -h: stdout lacks %q:\n%s", words, want, stdout.String())
		}
		for _, sub := range c.Commands {
			walk(append(slices.Clone(words), sub.Name), sub)
		}
	}
	walk(nil, newApp(&env{getenv: noEnv}))
	if n < 14 {
		t.Fatalf("walked %d commands, want every one of the 14", n)
	}
}

// TestListenBusy checks that a busy --listen port is a usage error on one
// line naming the flag, not a panic.
func TestListenBusy(t *testing.T) {
	node, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var stderr bytes.Buffer
	code := run([]string{"--remote-addr", node.Addr().String(), "--listen", busy.Addr().String(), "health"}, noEnv, &bytes.Buffer{}, &stderr)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if code != exitUsage || len(lines) != 1 || !strings.Contains(lines[0], "address already in use (change --listen)") {
		t.Fatalf("exit %d, stderr %q; want exit %d and one line naming --listen", code, stderr.String(), exitUsage)
	}
}

// TestExitCodeOf checks the exit code of each kind of failure.
func TestExitCodeOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, exitOK},
		{&RejectedError{Reply: admission.Refusal()}, exitFailed},
		{&unhealthyError{summary: "down"}, exitFailed},
		{errors.New("encode reply: broken pipe"), exitFailed},
		{usagef("bad"), exitUsage},
		{fmt.Errorf("wrapped: %w", &UnreachableError{Node: "n", Err: errors.New("refused")}), exitUnreachable},
		{&partialError{msg: "1 failed again"}, exitPartial},
	} {
		if got := exitCodeOf(tc.err); got != tc.code {
			t.Errorf("exitCodeOf(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
}

// TestExitCodesDocumented checks that docs/operations.md shows the exit
// code table of exitCodes, row by row.
func TestExitCodesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range exitCodes {
		row := fmt.Sprintf("| %d | %s |", c.code, c.meaning)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/operations.md lacks the row %q", row)
		}
	}
}

// A malformed traceparent, from the flag or from TRACEPARENT, is a usage
// error found before anything is sent (the node address is closed).
func TestTraceparentIsChecked(t *testing.T) {
	down := closedAddr(t)
	bad := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
	for name, tc := range map[string]struct {
		args []string
		env  string
	}{
		"flag":     {[]string{"--remote-addr", down, "order", "update", uuidArg, "--amount", "1", "--traceparent", bad}, ""},
		"env":      {[]string{"--remote-addr", down, "order", "create", "--customer", "a", "--amount", "1"}, bad},
		"env-flag": {[]string{"--remote-addr", down, "order", "cancel", uuidArg, "--traceparent", "junk"}, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	} {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(tc.args, func(k string) string {
				if k == "TRACEPARENT" {
					return tc.env
				}
				return ""
			}, &bytes.Buffer{}, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), "--traceparent: invalid traceparent") {
				t.Fatalf("exit %d, stderr %q: want a usage error naming --traceparent", code, stderr.String())
			}
		})
	}
}

func TestParseItems(t *testing.T) {
	items, err := parseItems([]string{"A-1:2", "B:10"})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].GetSku() != "A-1" || items[0].GetQuantity() != 2 || items[1].GetQuantity() != 10 {
		t.Fatalf("items = %v", items)
	}
}

// TestShuttingDownIsARejection checks that a SHUTTING_DOWN refusal exits
// like every rejection (1) and names the code and the node's reason.
func TestShuttingDownIsARejection(t *testing.T) {
	var stderr bytes.Buffer
	code := report(&RejectedError{Reply: admission.Refusal()}, &stderr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	if want := "outboxctl: rejected (SHUTTING_DOWN): node is shutting down: nothing was written"; !strings.HasPrefix(stderr.String(), want) {
		t.Fatalf("stderr %q, want it to start with %q", stderr.String(), want)
	}
}
