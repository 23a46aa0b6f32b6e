package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/test/harness"
)

// oneTopic puts every order event in one topic, so that per-key order is
// the partition order (with the default template each event type has a
// topic); the node's Topic names it, whatever the event type.
const oneTopic = "orders.{{aggregate_type}}"

var eventTypes = map[int32]string{1: "OrderCreated", 2: "OrderUpdated", 3: "OrderCancelled"}

// TestThreeThousandRecordsExactlyInOrderWithHeaders runs 1,000 orders x 3
// commands (plus a rejected update each) through the node and reads the
// topic back: exactly 3,000 records, one per accepted command, each key's
// versions 1, 2, 3 in partition order, with the record headers.
func TestThreeThousandRecordsExactlyInOrderWithHeaders(t *testing.T) {
	bins := harness.Build(t)
	node := startNode(t, bins, "--topic-template", oneTopic, "--log-level", "warn")
	kafka := harness.Collect(t, node.Kafka, node.Topic(""))

	acc := runLifecycles(t, node.Remote, 1000, 32)
	if len(acc) != 3000 {
		t.Fatalf("%d accepted commands, want 3000", len(acc))
	}
	checkDelivered(t, node, kafka, acc)
}

// TestTabletsRecordsExactlyInOrderThroughSplitAndMerge is the delivery test
// on a tablets keyspace (--tablets on): while orders run, the outbox
// table's tablets split (4 -> 8) and merge (8 -> 4 -> 2) with ALTER TABLE
// ... WITH tablets on the node's store, so the relay's reader moves through
// four stream sets, with orders whose events span them. Every accepted
// command still yields exactly one record, each key's versions in order.
func TestTabletsRecordsExactlyInOrderThroughSplitAndMerge(t *testing.T) {
	harness.EmbeddedOnly(t, "it resizes tablets with ALTER TABLE and counts the stream sets of miniscylla's tablets emulation")
	bins := harness.Build(t)
	node := startNode(t, bins, "--topic-template", oneTopic, "--log-level", "warn",
		"--replication", "datacenter1:1", "--tablets", "on")
	kafka := harness.Collect(t, node.Kafka, node.Topic(""))
	store := miniscyllatest.Connect(t, node.CQL)
	var tablets int
	if err := store.Query(`SELECT initial_tablets FROM system_schema.scylla_keyspaces WHERE keyspace_name = ?`, node.Keyspace).Scan(&tablets); err != nil {
		t.Fatalf("the node's keyspace is not a tablets keyspace: %v", err)
	}

	// The resizes run while the orders below keep running; each waits until
	// its new stream set has operated for a second.
	resized := make(chan error, 1)
	go func() {
		for _, n := range []int{8, 2} {
			if err := store.Query(fmt.Sprintf(`ALTER TABLE %s.outbox_messages WITH tablets = {'min_tablet_count': %d}`, node.Keyspace, n)).Exec(); err != nil {
				resized <- err
				return
			}
			var start time.Time
			if err := store.Query(`SELECT timestamp FROM system.cdc_timestamps WHERE keyspace_name = ? AND table_name = 'outbox_messages' LIMIT 1`, node.Keyspace).Scan(&start); err != nil {
				resized <- err
				return
			}
			<-time.After(time.Until(start.Add(time.Second)))
		}
		resized <- nil
	}()
	var acc []accepted
	for done := false; !done; {
		acc = append(acc, runLifecycles(t, node.Remote, 100, 16)...)
		select {
		case err := <-resized:
			if err != nil {
				t.Fatalf("resize: %v", err)
			}
			done = true
		default:
		}
	}
	var sets int
	if err := store.Query(`SELECT COUNT(*) FROM system.cdc_timestamps WHERE keyspace_name = ? AND table_name = 'outbox_messages'`, node.Keyspace).Scan(&sets); err != nil || sets != 4 {
		t.Fatalf("%d stream sets (%v), want 4: 4, 8, then 4, 2 tablets", sets, err)
	}
	t.Logf("%d orders, %d commands accepted through the split and the merge", len(acc)/3, len(acc))
	checkDelivered(t, node, kafka, acc)
}

// checkDelivered reads the topic back: exactly one record per accepted
// command, each key's versions 1, 2, 3 in partition order, with the record
// headers (also as kcat sees them), and the node's counters agree.
func checkDelivered(t *testing.T, node *harness.Node, kafka *harness.Collector, acc []accepted) {
	t.Helper()
	byEvent := make(map[string]accepted, len(acc))
	ids := make([]string, 0, len(acc))
	for _, a := range acc {
		byEvent[a.eventID] = a
		ids = append(ids, a.eventID)
	}
	kafka.WaitEvents(t, 2*time.Minute, ids)
	if n := highWaterMarks(t, node.Kafka, node.Topic("")); n != int64(len(acc)) {
		t.Fatalf("topic holds %d records, want exactly %d", n, len(acc))
	}
	records := kafka.All()
	if len(records) != len(acc) {
		t.Fatalf("consumed %d records, want %d", len(records), len(acc))
	}

	slices.SortFunc(records, func(a, b harness.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	versions := map[string][]int32{}
	for _, r := range records {
		a, ok := byEvent[r.Headers["event_id"]]
		if !ok {
			t.Fatalf("record %s/%d carries event %q that no accepted command committed", r.Topic, r.Offset, r.Headers["event_id"])
		}
		checkRecord(t, r, a)
		versions[r.Key] = append(versions[r.Key], a.version)
	}
	if len(versions) != len(acc)/3 {
		t.Fatalf("%d keys, want %d", len(versions), len(acc)/3)
	}
	for key, v := range versions {
		if !slices.Equal(v, []int32{1, 2, 3}) {
			t.Errorf("key %s: versions %v in partition order, want [1 2 3]", key, v)
		}
	}
	checkWithKcat(t, node.Kafka, node.Topic(""), byEvent)
	if got := metric(t, node, "cdc_events_processed_total"); got < float64(len(acc)) {
		t.Errorf("cdc_events_processed_total %v, want >= %d", got, len(acc))
	}
	if got := metric(t, node, "dlq_messages_total"); got != 0 {
		t.Errorf("dlq_messages_total %v, want 0", got)
	}
}

// checkRecord checks the record mapping (docs/architecture.md, data path) for the event of a.
func checkRecord(t *testing.T, r harness.Record, a accepted) {
	t.Helper()
	h := r.Headers
	want := map[string]string{
		"event_id": a.eventID, "event_type": eventTypes[a.version], "aggregate_type": "order",
		"aggregate_id": a.orderID, "aggregate_version": strconv.Itoa(int(a.version)),
	}
	for k, v := range want {
		if h[k] != v {
			t.Fatalf("record %s/%d header %s = %q, want %q", r.Topic, r.Offset, k, h[k], v)
		}
	}
	if r.Key != a.orderID {
		t.Fatalf("record key %q, want the aggregate id %s", r.Key, a.orderID)
	}
	at, err := time.Parse(time.RFC3339Nano, h["occurred_at"])
	if err != nil {
		t.Fatalf("occurred_at %q: %v", h["occurred_at"], err)
	}
	if !r.Timestamp.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("record timestamp %v, want the event time %v", r.Timestamp, at)
	}
	var value struct {
		EventID string `json:"eventId"`
		Payload []byte `json:"payload"`
	}
	if err := json.Unmarshal(r.Value, &value); err != nil || value.EventID != a.eventID {
		t.Fatalf("value %s: %v", r.Value, err)
	}
	var order struct {
		OrderID string `json:"order_id"`
		Version int32  `json:"version"`
	}
	if err := json.Unmarshal(value.Payload, &order); err != nil || order.OrderID != a.orderID || order.Version != a.version {
		t.Fatalf("payload %s: %v", value.Payload, err)
	}
}

// highWaterMarks sums the newest offsets of topic's partitions: the number
// of records it holds.
func highWaterMarks(t *testing.T, brokers, topic string) int64 {
	t.Helper()
	c, err := sarama.NewClient([]string{brokers}, sarama.NewConfig())
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer c.Close()
	partitions, err := c.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	var n int64
	for _, p := range partitions {
		off, err := c.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("offset of %s/%d: %v", topic, p, err)
		}
		n += off
	}
	return n
}

// checkWithKcat reads the topic with kcat (installed by .ci/deps; its
// absence fails the test) as a second, independent consumer: every
// record, each with the event's headers.
func checkWithKcat(t *testing.T, brokers, topic string, byEvent map[string]accepted) {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat not installed (make deps installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, kcat, "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-e", "-q",
		"-f", "%k %h\\n").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(byEvent) {
		t.Fatalf("kcat read %d records, want %d", len(lines), len(byEvent))
	}
	for _, l := range lines {
		key, headers, _ := strings.Cut(l, " ")
		h := map[string]string{}
		for _, kv := range strings.Split(headers, ",") {
			k, v, _ := strings.Cut(kv, "=")
			h[k] = v
		}
		a, ok := byEvent[h["event_id"]]
		if !ok || key != a.orderID || h["aggregate_version"] != strconv.Itoa(int(a.version)) || h["event_type"] != eventTypes[a.version] {
			t.Fatalf("kcat record %q does not match an accepted command", l)
		}
	}
}
