package relay

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/test/harness"
)

// TestPoisonRowsAreDeadLetteredAndParkOnlyTheirAggregate writes two poison
// events straight into outbox_messages: an undecodable row, and an event
// whose record exceeds the broker's 1 MiB limit, followed by a later event
// of the same aggregate. Both poison events end in the DLQ with a clear
// error while orders of other aggregates flow; the later event is parked
// (stored, not published) until `outboxctl dlq skip` releases it in order.
func TestPoisonRowsAreDeadLetteredAndParkOnlyTheirAggregate(t *testing.T) {
	bins := harness.Build(t)
	node := startNode(t, bins, "--log-level", "warn")
	kafka := harness.Collect(t, node.Kafka, node.Topic("OrderCreated"), node.Topic("OrderUpdated"), node.Topic("OrderCancelled"))
	s := node.Session(t).Session

	undecodable, large, later := gocql.TimeUUID(), gocql.TimeUUID(), gocql.TimeUUID()
	poisoned, blocked := gocql.MustRandomUUID(), gocql.MustRandomUUID()
	execCQL(t, s, `INSERT INTO `+node.Keyspace+`.outbox_messages (aggregate_id, event_id, payload) VALUES (?, ?, 0xff)`, poisoned, undecodable)
	huge := []byte(`{"pad":"` + strings.Repeat("x", 3<<19) + `"}`)
	insertEvent(t, s, node.Keyspace, blocked, large, 1, huge)
	insertEvent(t, s, node.Keyspace, blocked, later, 2, []byte(`{"order_id":"`+blocked.String()+`","version":2}`))

	flowing := runLifecycles(t, node.Remote, 20, 4)
	kafka.WaitEvents(t, time.Minute, eventIDs(flowing))

	harness.Eventually(t, time.Minute, func() error {
		return dlqShows(t, node, map[gocql.UUID]string{undecodable: "DEAD", large: "DEAD", later: "PARKED"})
	})
	list := mustCtl(t, node, "dlq", "list")
	t.Logf("dlq list:\n%s", list)
	if line := lineOf(list, undecodable.String()); !strings.Contains(line, "undecodable row") || !strings.Contains(line, "column aggregate_type") {
		t.Errorf("undecodable row's dead letter lacks a clear error: %s", line)
	}
	if line := lineOf(list, large.String()); !strings.Contains(strings.ToLower(line), "large") {
		t.Errorf("oversize record's dead letter lacks a clear error: %s", line)
	}
	if got := kafka.ByEventID(); len(got[later.String()]) != 0 || len(got[large.String()]) != 0 {
		t.Fatalf("a parked or dead event reached Kafka")
	}

	mustCtl(t, node, "dlq", "skip", large.String())
	kafka.WaitEvents(t, time.Minute, []string{later.String()})
	harness.Eventually(t, 30*time.Second, func() error {
		return dlqShows(t, node, map[gocql.UUID]string{large: "SKIPPED", later: "REPLAYED", undecodable: "DEAD"})
	})
	mustCtl(t, node, "dlq", "skip", undecodable.String())
	if err := dlqShows(t, node, map[gocql.UUID]string{undecodable: "SKIPPED"}); err != nil {
		t.Error(err)
	}
	if got := metric(t, node, "dlq_messages_total"); got != 3 {
		t.Errorf("dlq_messages_total %v, want 3 (two dead, one parked)", got)
	}
}

func execCQL(t *testing.T, s *gocql.Session, stmt string, args ...any) {
	t.Helper()
	if err := s.Query(stmt, args...).Exec(); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// insertEvent writes a well-formed OrderUpdated outbox row.
func insertEvent(t *testing.T, s *gocql.Session, keyspace string, agg, id gocql.UUID, version int, payload []byte) {
	t.Helper()
	execCQL(t, s, `INSERT INTO `+keyspace+`.outbox_messages (aggregate_id, event_id, aggregate_type, aggregate_version, event_type, payload, created_at)
		VALUES (?, ?, 'order', ?, 'OrderUpdated', ?, ?)`, agg, id, version, payload, time.Now())
}

func mustCtl(t *testing.T, node *harness.Node, args ...string) string {
	t.Helper()
	r := node.Ctl(t, args...)
	if r.Code != 0 {
		t.Fatalf("outboxctl %v: exit %d: %s", args, r.Code, r.Stderr)
	}
	return r.Stdout
}

// dlqShows checks `outboxctl dlq list` lists each event in its state.
func dlqShows(t *testing.T, node *harness.Node, want map[gocql.UUID]string) error {
	t.Helper()
	list := mustCtl(t, node, "dlq", "list")
	for id, state := range want {
		if !strings.Contains(list, id.String()+" "+state+" ") {
			return fmt.Errorf("dlq list lacks %s %s:\n%s", id, state, list)
		}
	}
	return nil
}

func lineOf(text, substr string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}
