package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/test/harness"
)

// TestBrokerOutageOpensBreakerPausesAndRecovers takes the broker down for
// longer than the breaker's open delay while orders keep coming:
// circuit_breaker_state goes to 1 and /health degrades (breaker, and CDC
// lag past its share of the TTL with a warning giving the time left), no
// checkpoint moves past an unpublished event, the DLQ stays empty; after
// recovery the breaker closes (0), the lag clears and every event arrives,
// per key in version order.
func TestBrokerOutageOpensBreakerPausesAndRecovers(t *testing.T) {
	harness.EmbeddedOnly(t, "it stops and restarts an in-process broker and reads the store's CDC log table")
	broker, err := minikafka.Start(context.Background(), minikafka.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	const openDelay = 2 * time.Second
	bins := harness.Build(t)
	node := startNode(t, bins, "--kafka-brokers", broker.Addr(), "--topic-template", oneTopic,
		"--breaker-open-delay", openDelay.String(), "--retry-backoff-min", "50ms", "--retry-backoff-max", "200ms",
		// Lag threshold 2.4 s: 2% of a 2-minute CDC log TTL.
		"--outbox-ttl", "2m", "--cdc-lag-share", "0.02", "--log-level", "warn")
	kafka := harness.Collect(t, broker.Addr(), node.Topic(""))

	before := runLifecycles(t, node.Remote, 50, 8)
	kafka.WaitEvents(t, time.Minute, eventIDs(before))
	published := kafka.ByEventID()

	if err := broker.SetUnavailable(true); err != nil {
		t.Fatal(err)
	}
	during := runLifecycles(t, node.Remote, 50, 8)
	harness.Eventually(t, time.Minute, func() error {
		if s := metric(t, node, "circuit_breaker_state"); s != 1 {
			return fmt.Errorf("circuit_breaker_state %v, want 1 (open)", s)
		}
		return nil
	})
	opened := time.Now()
	body, code := node.HTTPGet(t, "/health")
	if code != 503 || !strings.Contains(body, "breaker") {
		t.Errorf("/health during the outage: %d %s", code, body)
	}
	s := node.Session(t).Session
	checkpointsCoverOnly(t, s, published, eventIDs(during))
	// Stay down for longer than the breaker's open delay: its half-open
	// trials fail and it opens again, nothing is dead-lettered.
	harness.Eventually(t, time.Minute, func() error {
		if time.Since(opened) < openDelay+time.Second {
			return fmt.Errorf("down for %s", time.Since(opened))
		}
		return nil
	})
	checkpointsCoverOnly(t, s, published, eventIDs(during))
	harness.Eventually(t, time.Minute, func() error {
		return healthOf(t, node, "cdc", "degraded")
	})
	if log := node.Log(); !strings.Contains(log, "cdc lag above threshold") || !strings.Contains(log, "time_left=") {
		t.Errorf("no lag warning with the time left in the node log:\n%s", log)
	}

	if err := broker.SetUnavailable(false); err != nil {
		t.Fatal(err)
	}
	all := append(before, during...)
	kafka.WaitEvents(t, 2*time.Minute, eventIDs(all))
	harness.Eventually(t, time.Minute, func() error {
		if s := metric(t, node, "circuit_breaker_state"); s != 0 {
			return fmt.Errorf("circuit_breaker_state %v, want 0 (closed)", s)
		}
		return nil
	})
	harness.Eventually(t, time.Minute, func() error {
		return healthOf(t, node, "cdc", "ok")
	})
	var dead int
	if err := s.Query(`SELECT COUNT(*) FROM orders_ks.dead_letter_queue`).Scan(&dead); err != nil || dead != 0 {
		t.Errorf("dead_letter_queue rows %d (%v), want 0", dead, err)
	}
	if got := metric(t, node, "dlq_messages_total"); got != 0 {
		t.Errorf("dlq_messages_total %v, want 0", got)
	}
	checkFirstOccurrenceOrder(t, kafka.All(), all)
}

// healthOf checks the status of one /health component.
func healthOf(t *testing.T, node *harness.Node, component, want string) error {
	t.Helper()
	body, _ := node.HTTPGet(t, "/health")
	var h struct {
		Components map[string]struct {
			Status string `json:"status"`
			Detail string `json:"detail"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		return fmt.Errorf("/health %q: %w", body, err)
	}
	if c := h.Components[component]; c.Status != want {
		return fmt.Errorf("/health %s is %s (%s), want %s", component, c.Status, c.Detail, want)
	}
	return nil
}

func eventIDs(acc []accepted) []string {
	ids := make([]string, len(acc))
	for i, a := range acc {
		ids[i] = a.eventID
	}
	return ids
}

// checkpointsCoverOnly checks that every CDC log row at or before its
// stream's checkpoint in cdc_offsets is an event already in Kafka, and that
// the events written during the outage exist in the log (so the check is
// not vacuous).
func checkpointsCoverOnly(t *testing.T, s *gocql.Session, published map[string][]harness.Record, unpublished []string) {
	t.Helper()
	checkpoint := map[string]gocql.UUID{}
	var stream []byte
	var last gocql.UUID
	iter := s.Query(`SELECT stream_id, last_timestamp FROM orders_ks.cdc_offsets`).Iter()
	for iter.Scan(&stream, &last) {
		if len(stream) > 0 {
			checkpoint[string(stream)] = last
		}
	}
	if err := iter.Close(); err != nil {
		t.Fatalf("read cdc_offsets: %v", err)
	}
	if len(checkpoint) == 0 {
		t.Fatal("no stream checkpointed in cdc_offsets")
	}
	inLog := map[string]bool{}
	var at, eventID gocql.UUID
	iter = s.Query(`SELECT "cdc$stream_id", "cdc$time", event_id FROM orders_ks.outbox_messages_scylla_cdc_log`).Iter()
	for iter.Scan(&stream, &at, &eventID) {
		inLog[eventID.String()] = true
		cp, ok := checkpoint[string(stream)]
		if ok && at.Timestamp() <= cp.Timestamp() && len(published[eventID.String()]) == 0 {
			t.Errorf("stream checkpoint %s covers event %s (cdc$time %s) that is not in Kafka", cp.Time(), eventID, at.Time())
		}
	}
	if err := iter.Close(); err != nil {
		t.Fatalf("read the CDC log: %v", err)
	}
	for _, id := range unpublished {
		if !inLog[id] {
			t.Fatalf("event %s written during the outage is not in the CDC log", id)
		}
	}
}

// checkFirstOccurrenceOrder checks that each key's first records carry
// versions 1, 2, 3 in partition order (a re-send may add duplicates later).
func checkFirstOccurrenceOrder(t *testing.T, records []harness.Record, acc []accepted) {
	t.Helper()
	version := map[string]int32{}
	for _, a := range acc {
		version[a.eventID] = a.version
	}
	slices.SortFunc(records, func(a, b harness.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	seen := map[string]bool{}
	versions := map[string][]int32{}
	for _, r := range records {
		id := r.Headers["event_id"]
		if seen[id] {
			continue
		}
		seen[id] = true
		versions[r.Key] = append(versions[r.Key], version[id])
	}
	for key, v := range versions {
		if !slices.IsSorted(v) {
			t.Errorf("key %s: versions %v out of order", key, v)
		}
	}
}
