package chaos

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/test/harness"
)

// verdict is what the final read of the store and of Kafka found.
type verdict struct {
	acknowledged int // events of acknowledged commands
	delivered    int // of those, with a record in Kafka
	lost         int // acknowledged, no record
	committed    int // events in outbox_messages
	undelivered  int // committed (acknowledged or not), no record
	unacked      int // delivered events of commands without acceptance
	records      int // records of the topic
	duplicates   int // records beyond the first of their event
	// phantoms are events committed after a STORE_UNAVAILABLE rejection,
	// which says that nothing was committed.
	phantoms int
	problems []string // order and content errors, the first few
}

// verify reads every committed event from the store, waits until each has
// a record in Kafka (or deliveryTimeout passes), and checks the records.
func (r *run) verify() {
	t := r.t
	r.begin("final delivery check")
	committed := outboxEvents(t, r.node.Session(t).Session, r.node.Keyspace)
	ids := make([]string, 0, len(committed))
	for id := range committed {
		ids = append(ids, id)
	}
	kafka := harness.Collect(t, r.kafka, r.node.Topic(""))
	err := harness.Within(deliveryTimeout, func() error {
		if missing := kafka.Missing(ids); missing > 0 {
			return fmt.Errorf("%d of %d committed events not in Kafka", missing, len(ids))
		}
		return nil
	})
	if err != nil {
		t.Errorf("delivery: %v", err)
	}
	acks, _, lastAcked := r.ledger.snapshot()
	v := check(acks, lastAcked, committed, kafka.All())
	r.verdict = &v
	r.current().note("%d committed events, %d records", v.committed, v.records)
	if v.lost > 0 {
		t.Errorf("%d of %d acknowledged commands have no record in Kafka", v.lost, v.acknowledged)
	}
	if v.undelivered > 0 {
		t.Errorf("%d of %d committed events have no record in Kafka", v.undelivered, v.committed)
	}
	for _, p := range v.problems {
		t.Error(p)
	}
}

// committedEvent is one row of outbox_messages.
type committedEvent struct {
	orderID string
	version int
}

// outboxEvents reads every committed event from keyspace's outbox_messages.
func outboxEvents(t testing.TB, s *gocql.Session, keyspace string) map[string]committedEvent {
	t.Helper()
	out := map[string]committedEvent{}
	var eventID, orderID gocql.UUID
	var version int
	iter := s.Query(`SELECT event_id, aggregate_id, aggregate_version FROM ` + keyspace + `.outbox_messages`).Iter()
	for iter.Scan(&eventID, &orderID, &version) {
		out[eventID.String()] = committedEvent{orderID.String(), version}
	}
	if err := iter.Close(); err != nil {
		t.Fatalf("read outbox_messages: %v", err)
	}
	return out
}

// check compares what the clients saw acknowledged and what the store
// committed with the records: every event delivered, duplicates equal to
// their first copy, and per order (one partition, in offset order, first
// copies only) versions 1, 2, 3... without gap or reordering.
func check(acks []ack, lastAcked map[string]int32, committed map[string]committedEvent, records []harness.Record) verdict {
	v := verdict{acknowledged: len(acks), committed: len(committed), records: len(records)}
	problem := func(format string, args ...any) {
		if len(v.problems) < 10 {
			v.problems = append(v.problems, fmt.Sprintf(format, args...))
		}
	}
	slices.SortFunc(records, func(a, b harness.Record) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	first := map[string]harness.Record{}
	versions := map[string][]int{}
	for _, rec := range records {
		id := rec.Headers["event_id"]
		if f, seen := first[id]; seen {
			v.duplicates++
			if !bytes.Equal(rec.Value, f.Value) || rec.Key != f.Key {
				problem("duplicate of event %s at %d/%d differs from its first copy at %d/%d", id, rec.Partition, rec.Offset, f.Partition, f.Offset)
			}
			continue
		}
		first[id] = rec
		version, err := strconv.Atoi(rec.Headers["aggregate_version"])
		if err != nil {
			problem("record %d/%d: aggregate_version %q", rec.Partition, rec.Offset, rec.Headers["aggregate_version"])
		}
		versions[rec.Key] = append(versions[rec.Key], version)
	}
	for order, vs := range versions {
		for i, version := range vs {
			if version != i+1 {
				problem("order %s: versions %v in Kafka, want 1..%d in order", order, vs, len(vs))
				break
			}
		}
		if last, ok := lastAcked[order]; ok && len(vs) > int(last) {
			v.phantoms++
		}
	}
	acked := make(map[string]bool, len(acks))
	for _, a := range acks {
		acked[a.eventID] = true
		rec, ok := first[a.eventID]
		if !ok {
			v.lost++
			continue
		}
		v.delivered++
		if rec.Key != a.orderID || rec.Headers["aggregate_version"] != strconv.Itoa(int(a.version)) {
			problem("event %s acknowledged as %s v%d, delivered as %s v%s", a.eventID, a.orderID, a.version, rec.Key, rec.Headers["aggregate_version"])
		}
		if _, ok := committed[a.eventID]; !ok {
			problem("acknowledged event %s (order %s v%d) is not in outbox_messages", a.eventID, a.orderID, a.version)
		}
	}
	for id := range committed {
		if _, ok := first[id]; !ok {
			v.undelivered++
		}
	}
	for id := range first {
		if !acked[id] {
			v.unacked++
		}
		if _, ok := committed[id]; !ok {
			problem("record of event %s that is not in outbox_messages", id)
		}
	}
	return v
}

// report renders the summary line and the per-phase table.
func (r *run) report() string {
	_, per, _ := r.ledger.snapshot()
	hangs := 0
	var b strings.Builder
	b.WriteString("| # | phase | at ack | lasted | acknowledged | rejected | unknown | first ack after | what happened |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for i, p := range r.phases {
		notes := slices.Clone(p.notes)
		hang := p.hang
		if p.pending != "" {
			notes = append(notes, p.pending+" (hang)")
			hang = true
		}
		if hang {
			hangs++
		}
		took := "-"
		if p.took > 0 {
			took = fmt.Sprintf("%.1fs", p.took.Seconds())
		}
		lasted := "-"
		if !p.end.IsZero() {
			lasted = fmt.Sprintf("%.1fs", p.end.Sub(p.start).Seconds())
		}
		c := per[int32(i)]
		fmt.Fprintf(&b, "| %d | %s | %d | %s | %d | %d | %d | %s | %s |\n", i, p.name, p.atAck, lasted, c.acknowledged, c.rejected, c.unknown, took, strings.Join(notes, "; "))
	}
	var rejected, unknown int
	for _, c := range per {
		rejected += c.rejected
		unknown += c.unknown
	}
	summary := fmt.Sprintf("chaos: seed %d, kills node %d store %d, outages %d, sigterms %d | ", r.seed,
		r.injected[nodeKill], r.injected[storeKill], r.injected[brokerOutage], r.injected[sigterm])
	if v := r.verdict; v != nil {
		summary += fmt.Sprintf("acknowledged %d delivered %d lost %d duplicates %d hangs %d | rejected %d unknown %d, "+
			"committed %d undelivered %d, delivered without acknowledgement %d, committed after a store_unavailable rejection %d",
			v.acknowledged, v.delivered, v.lost, v.duplicates, hangs, rejected, unknown, v.committed, v.undelivered, v.unacked, v.phantoms)
	} else {
		summary += fmt.Sprintf("acknowledged %d (delivery not checked: the run stopped early) hangs %d | rejected %d unknown %d",
			r.ledger.acked.Load(), hangs, rejected, unknown)
	}
	return summary + "\n\n" + b.String()
}
