package chaos

import (
	"strconv"
	"strings"
	"testing"

	"github.com/outboxnode/outbox/test/harness"
)

// rec is a record of event id for order at version, at partition 0.
func rec(offset int64, id, order string, version int, value string) harness.Record {
	return harness.Record{Topic: "orders.order", Offset: offset, Key: order, Value: []byte(value),
		Headers: map[string]string{"event_id": id, "aggregate_version": strconv.Itoa(version)}}
}

// TestCheckCountsWhatTheRunAsserts feeds check records with each defect
// the chaos run looks for, so that none of its verdicts holds by
// construction.
func TestCheckCountsWhatTheRunAsserts(t *testing.T) {
	committed := map[string]committedEvent{
		"a1": {"A", 1}, "a2": {"A", 2}, "b1": {"B", 1}, "b2": {"B", 2}, "c1": {"C", 1}, "c2": {"C", 2},
	}
	acks := []ack{{"A", "a1", 1}, {"A", "a2", 2}, {"B", "b1", 1}, {"C", "c1", 1}}
	// C's client gave up after a STORE_UNAVAILABLE rejection at version 1.
	lastAcked := map[string]int32{"C": 1}

	clean := []harness.Record{
		rec(0, "a1", "A", 1, "x"), rec(1, "b1", "B", 1, "y"), rec(2, "a2", "A", 2, "z"),
		rec(3, "a1", "A", 1, "x"), rec(4, "b2", "B", 2, "w"), rec(5, "c1", "C", 1, "v"), rec(6, "c2", "C", 2, "u"),
	}
	v := check(acks, lastAcked, committed, clean)
	if v.lost != 0 || v.undelivered != 0 || v.duplicates != 1 || v.unacked != 2 || v.phantoms != 1 || len(v.problems) != 0 {
		t.Fatalf("clean records: %+v", v)
	}

	lossy := []harness.Record{rec(0, "a1", "A", 1, "x"), rec(1, "b1", "B", 1, "y"), rec(2, "c1", "C", 1, "v")}
	if v := check(acks, lastAcked, committed, lossy); v.lost != 1 || v.undelivered != 3 || v.delivered != 3 {
		t.Fatalf("a2 acknowledged and missing, b2 c2 committed and missing: %+v", v)
	}

	reordered := []harness.Record{
		rec(0, "a2", "A", 2, "z"), rec(1, "a1", "A", 1, "x"), rec(2, "b1", "B", 1, "y"), rec(3, "b1", "B", 1, "changed"),
		rec(4, "b2", "B", 2, "w"), rec(5, "c1", "C", 1, "v"), rec(6, "c2", "C", 2, "u"),
	}
	v = check(acks, lastAcked, committed, reordered)
	joined := strings.Join(v.problems, "\n")
	if !strings.Contains(joined, "order A: versions [2 1]") || !strings.Contains(joined, "duplicate of event b1") {
		t.Fatalf("reordered versions and a changed duplicate not reported: %q", v.problems)
	}

	stranger := append(clean, rec(7, "x9", "X", 1, "t"))
	if v := check(acks, lastAcked, committed, stranger); !strings.Contains(strings.Join(v.problems, "\n"), "x9 that is not in outbox_messages") {
		t.Fatalf("record of an event the store never committed not reported: %q", v.problems)
	}
}
