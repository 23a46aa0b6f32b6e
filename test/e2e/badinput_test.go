package e2e

import (
	"strings"
	"testing"

	"github.com/outboxnode/outbox/test/harness"
)

// TestBadInputRejectedThroughTheCLI sends, through outboxctl, the inputs
// the node refuses since the boundary hardening: control and bidi
// characters in customer ids, currencies that are not active ISO 4217 codes
// as written, a huge value (whose echo in the reason stays short), and a
// non-UTF-8 argument (refused by outboxctl itself as a usage error). None
// writes a row.
func TestBadInputRejectedThroughTheCLI(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)
	s := openStore(t, node)
	mustAccept(t, node, "order", "create", "--customer", "Zoë", "--amount", "1.00", "--currency", "JPY")
	ordersBefore, outboxBefore := countRows(t, s, "orders"), countRows(t, s, "outbox_messages")

	huge := strings.Repeat("7", 100_000)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"newline in customer", []string{"order", "create", "--customer", "bob\nlevel=ERROR msg=forged", "--amount", "1.00"}, 1, "rejected (INVALID_ARGUMENT): customer_id: control or format character U+000A at byte 3"},
		{"control byte in customer", []string{"order", "create", "--customer", "bob\x01", "--amount", "1.00"}, 1, "U+0001"},
		{"bidi override in customer", []string{"order", "create", "--customer", "alice\u202Etxt.exe", "--amount", "1.00"}, 1, "U+202E"},
		{"bidi isolate in customer", []string{"order", "create", "--customer", "\u2067alice", "--amount", "1.00"}, 1, "U+2067"},
		{"lower-case currency", []string{"order", "create", "--customer", "c", "--amount", "1.00", "--currency", "eur"}, 1, "not an ISO 4217 code"},
		{"unknown currency", []string{"order", "create", "--customer", "c", "--amount", "1.00", "--currency", "EUX"}, 1, "not an active ISO 4217 currency code"},
		{"huge amount value", []string{"order", "create", "--customer", "c", "--amount", huge + "x"}, 1, "… (100001 bytes)"},
		{"non-UTF-8 argument", []string{"order", "create", "--customer", "bob\xff", "--amount", "1.00"}, 2, "is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := node.Ctl(t, tt.args...)
			if r.Code != tt.code || !strings.Contains(r.Stderr, tt.stderr) {
				t.Fatalf("exit %d, want %d; stderr %.400q lacks %q", r.Code, tt.code, r.Stderr, tt.stderr)
			}
			if len(r.Stderr) > 2048 {
				t.Errorf("stderr of %d bytes echoes the input", len(r.Stderr))
			}
			if r.Stdout != "" {
				t.Errorf("stdout %q", r.Stdout)
			}
		})
	}
	if got := countRows(t, s, "orders"); got != ordersBefore {
		t.Errorf("orders rows %d -> %d after rejected commands", ordersBefore, got)
	}
	if got := countRows(t, s, "outbox_messages"); got != outboxBefore {
		t.Errorf("outbox rows %d -> %d after rejected commands", outboxBefore, got)
	}
}
