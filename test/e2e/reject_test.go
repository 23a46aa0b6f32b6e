package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/test/harness"
)

// TestRejectedCommandsWriteNothing sends bad commands and checks each gets
// its typed reason, exit code 1, and leaves both tables untouched.
func TestRejectedCommandsWriteNothing(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)
	s := openStore(t, node)

	live := mustAccept(t, node, "order", "create", "--customer", "bob", "--amount", "10.00")
	cancelled := mustAccept(t, node, "order", "create", "--customer", "carol", "--amount", "20.00")
	mustAccept(t, node, "order", "cancel", cancelled)
	ordersBefore, outboxBefore := countRows(t, s, "orders"), countRows(t, s, "outbox_messages")

	tooMany := []string{"order", "create", "--customer", "dave", "--amount", "1.00"}
	for i := range 101 {
		tooMany = append(tooMany, "--item", fmt.Sprintf("SKU-%d:1", i))
	}
	unknown := uuid.NewString()
	tests := []struct {
		name string
		args []string
		code string
	}{
		{"update unknown order", []string{"order", "update", unknown, "--amount", "1.00"}, "NOT_FOUND"},
		{"cancel unknown order", []string{"order", "cancel", unknown}, "NOT_FOUND"},
		{"get unknown order", []string{"order", "get", unknown}, "NOT_FOUND"},
		{"update after cancel", []string{"order", "update", cancelled, "--amount", "5.00"}, "INVALID_TRANSITION"},
		{"cancel after cancel", []string{"order", "cancel", cancelled}, "INVALID_TRANSITION"},
		{"empty customer", []string{"order", "create", "--customer", "", "--amount", "1.00"}, "INVALID_ARGUMENT"},
		{"negative amount", []string{"order", "create", "--customer", "erin", "--amount", "-5.00"}, "INVALID_ARGUMENT"},
		{"non-numeric amount", []string{"order", "create", "--customer", "erin", "--amount", "twelve"}, "INVALID_ARGUMENT"},
		{"three decimals", []string{"order", "update", live, "--amount", "1.005"}, "INVALID_ARGUMENT"},
		{"malformed id", []string{"order", "update", "not-a-uuid", "--amount", "1.00"}, "INVALID_ARGUMENT"},
		{"malformed id on cancel", []string{"order", "cancel", "1234"}, "INVALID_ARGUMENT"},
		{"oversize item list", tooMany, "INVALID_ARGUMENT"},
		{"zero quantity", []string{"order", "create", "--customer", "erin", "--amount", "1.00", "--item", "A:0"}, "INVALID_ARGUMENT"},
		{"fault injection disabled", []string{"fault", "inject", "orders"}, "PERMISSION_DENIED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := node.Ctl(t, tt.args...)
			if r.Code != 1 {
				t.Fatalf("exit %d, want 1 (rejected); stdout %q stderr %q", r.Code, r.Stdout, r.Stderr)
			}
			if !strings.Contains(r.Stderr, "rejected ("+tt.code+")") {
				t.Fatalf("stderr %q lacks the reason code %s", r.Stderr, tt.code)
			}
			if r.Stdout != "" {
				t.Fatalf("a rejected command printed %q on stdout", r.Stdout)
			}
		})
	}
	if got := countRows(t, s, "orders"); got != ordersBefore {
		t.Errorf("orders rows %d -> %d after rejected commands", ordersBefore, got)
	}
	if got := countRows(t, s, "outbox_messages"); got != outboxBefore {
		t.Errorf("outbox rows %d -> %d after rejected commands", outboxBefore, got)
	}
	if row, ok := loadOrder(t, s, uuid.MustParse(live)); !ok || row.Version != 1 || row.TotalCents != 1000 {
		t.Errorf("live order changed by rejected update: %+v", row)
	}
}

// TestUnreachableNode checks outboxctl's distinct exit code and message.
func TestUnreachableNode(t *testing.T) {
	bins := harness.Build(t)
	r := harness.Ctl(t, bins, harness.FreeAddr(t), "--timeout", "2s", "order", "create", "--customer", "a", "--amount", "1.00")
	if r.Code != 3 || !strings.Contains(r.Stderr, "unreachable") {
		t.Fatalf("exit %d stderr %q; want 3 and \"unreachable\"", r.Code, r.Stderr)
	}
}
