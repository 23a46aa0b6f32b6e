package main

import (
	"bytes"
	"flag"
	"net"
	"strings"
	"testing"

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
		{"help", []string{"-h"}, exitOK, "order create"},
		{"command help", []string{"order", "create", "-h"}, exitOK, "-customer"},
		{"unknown command", []string{"order", "explode"}, exitUsage, "unknown command"},
		{"bad global flag", []string{"--bogus"}, exitUsage, "not defined: -bogus"},
		{"bad output", []string{"-o", "yaml", "health"}, exitUsage, "usage"},
		{"missing order id", []string{"order", "get"}, exitUsage, "want ORDER_ID"},
		{"two order ids", []string{"order", "cancel", "a", "b"}, exitUsage, "want ORDER_ID"},
		{"malformed item", []string{"order", "create", "--item", "sku-without-qty"}, exitUsage, "SKU:QTY"},
		{"non-numeric quantity", []string{"order", "create", "--item", "a:many"}, exitUsage, "whole number"},
		{"replay needs a target", []string{"dlq", "replay"}, exitUsage, "EVENT_ID or --all"},
		{"replay id and all", []string{"dlq", "replay", "x", "--all"}, exitUsage, "EVENT_ID or --all, not both"},
		{"replay two ids", []string{"dlq", "replay", "x", "y"}, exitUsage, "want one EVENT_ID or --all, got 2"},
		{"stray argument", []string{"dlq", "list", "extra"}, exitUsage, `dlq list: takes no arguments, got ["extra"]`},
		{"negative limit", []string{"events", "--limit", "-3"}, exitUsage, "want a whole number >= 0"},
		{"zero timeout", []string{"--timeout", "0s", "health"}, exitUsage, "--timeout must be positive"},
		{"bad listen", []string{"--node", down, "--listen", "nohost", "health"}, exitUsage, `--listen "nohost" is not host:port`},
		{"bad listen port", []string{"--node", down, "--listen", "127.0.0.1:http", "health"}, exitUsage, "bad port"},
		{"negative since", []string{"events", "--since", "-1m"}, exitUsage, "negative"},
		{"non-UTF-8 customer", []string{"--node", down, "order", "create", "--customer", "bob\xff", "--amount", "1"}, exitUsage, `argument 6 ("bob\xff", 4 bytes) is not valid UTF-8`},
		{"non-UTF-8 flag value joined", []string{"--node", down, "order", "cancel", "--reason=\xc3", uuidArg}, exitUsage, "not valid UTF-8"},
		{"long non-UTF-8 argument", []string{"--node", down, "order", "get", strings.Repeat("a", 500) + "\xfe"}, exitUsage, "501 bytes) is not valid UTF-8"},
		{"unreachable", []string{"--node", down, "--timeout", "1s", "order", "create", "--customer", "a", "--amount", "1"}, exitUnreachable, "unreachable"},
		{"unreachable flags after command", []string{"health", "--node", down}, exitUnreachable, down},
		{"top zero interval", []string{"top", "--interval", "0s"}, exitUsage, "--interval must be positive"},
		{"top negative count", []string{"top", "--count", "-1"}, exitUsage, "--count must not be negative"},
		{"top metrics not a URL", []string{"top", "--metrics", "127.0.0.1:9090"}, exitUsage, `--metrics "127.0.0.1:9090" is not an http(s) URL`},
		{"top stray argument", []string{"top", "now"}, exitUsage, "takes no arguments"},
		{"top node unreachable", []string{"--node", down, "--timeout", "1s", "top", "--count", "1"}, exitUnreachable, "unreachable"},
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

func TestNodeFromEnv(t *testing.T) {
	down := closedAddr(t)
	var stderr bytes.Buffer
	code := run([]string{"health"}, func(k string) string {
		if k == "OUTBOX_NODE" {
			return down
		}
		return ""
	}, &bytes.Buffer{}, &stderr)
	if code != exitUnreachable || !strings.Contains(stderr.String(), down) {
		t.Fatalf("exit %d, stderr %q: OUTBOX_NODE not used", code, stderr.String())
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
		"flag":     {[]string{"--node", down, "order", "update", uuidArg, "--amount", "1", "--traceparent", bad}, ""},
		"env":      {[]string{"--node", down, "order", "create", "--customer", "a", "--amount", "1"}, bad},
		"env-flag": {[]string{"--node", down, "order", "cancel", uuidArg, "--traceparent", "junk"}, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
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

func TestParseInterspersed(t *testing.T) {
	var g globals
	fs := newFlagSet("order update", &g)
	amount := fs.String("amount", "", "")
	pos, err := parse(fs, []string{"ID", "--amount", "5.00", "-o", "json"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pos) != 1 || pos[0] != "ID" || *amount != "5.00" || g.output != "json" {
		t.Fatalf("pos=%v amount=%q output=%q", pos, *amount, g.output)
	}
}

func TestItemsFlag(t *testing.T) {
	var items itemsFlag
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Var(&items, "item", "")
	if err := fs.Parse([]string{"--item", "A-1:2", "--item", "B:10"}); err != nil {
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
	if code != exitRejected {
		t.Fatalf("exit %d, want %d", code, exitRejected)
	}
	if want := "outboxctl: rejected (SHUTTING_DOWN): node is shutting down: nothing was written"; !strings.HasPrefix(stderr.String(), want) {
		t.Fatalf("stderr %q, want it to start with %q", stderr.String(), want)
	}
}
