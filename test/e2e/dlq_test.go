package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// TestDLQListReplaySkip stores two dead letters in dead_letter_queue with
// gocqlx, then drives `outboxctl dlq`: list shows them, replay publishes
// one to Kafka (read back with sarama), skip retires the other, and bad
// ids get typed rejections. A replay whose event fails again exits 4
// (partial) and says how many failed.
func TestDLQListReplaySkip(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)
	s := openStore(t, node)
	replayed, skipped, poison := deadLetter(t, node), deadLetter(t, node), deadLetter(t, node)
	// Its event type makes an illegal topic name: every publish fails, permanently.
	poison.Event.EventType = "Order Created!"
	if err := scylla.NewDLQStore(s.Session, s.keyspace).Put(t.Context(), []*messages.DeadLetter{replayed, skipped, poison}); err != nil {
		t.Fatalf("seed dead letters: %v", err)
	}
	replayedID, skippedID := replayed.GetEvent().GetEventId(), skipped.GetEvent().GetEventId()

	list := mustAccept(t, node, "dlq", "list")
	for _, id := range []string{replayedID, skippedID} {
		if !strings.Contains(list, id+" DEAD") {
			t.Fatalf("dlq list lacks dead %s:\n%s", id, list)
		}
	}

	if out := mustAccept(t, node, "dlq", "replay", replayedID); !strings.Contains(out, "1 affected") {
		t.Fatalf("dlq replay printed %q", out)
	}
	checkPublished(t, node, replayed.GetEvent())

	mustAccept(t, node, "dlq", "skip", skippedID)
	list = mustAccept(t, node, "dlq", "list")
	if !strings.Contains(list, replayedID+" REPLAYED") || !strings.Contains(list, skippedID+" SKIPPED") {
		t.Fatalf("dlq list after replay and skip:\n%s", list)
	}

	poisonID := poison.GetEvent().GetEventId()
	r := node.Ctl(t, "dlq", "replay", poisonID)
	if r.Code != 4 || !strings.Contains(r.Stdout, "0 affected 1 failed") || !strings.Contains(r.Stdout, poisonID+" failed again") ||
		r.Stderr != "outboxctl: 1 dead letter(s) failed again; see dlq list" {
		t.Fatalf("replay of a poison event: exit %d stdout %q stderr %q; want exit 4, 1 failed", r.Code, r.Stdout, r.Stderr)
	}
	r = node.Ctl(t, "-o", "json", "dlq", "replay", "--all")
	if got := decodeJSON[map[string]any](t, r.Stdout); r.Code != 4 || got["failed"] != float64(1) || got["affected"] != float64(0) {
		t.Fatalf("dlq replay --all with the poison event left: exit %d json %v, want exit 4, failed 1", r.Code, got)
	}
	if list := mustAccept(t, node, "dlq", "list"); !strings.Contains(list, poisonID+" DEAD") {
		t.Fatalf("the poison event is no longer dead after failed replays:\n%s", list)
	}

	unknown, err := uuid.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	random := uuid.NewString() // version 4: never an event id
	for _, tt := range []struct {
		args []string
		code string
		says string
	}{
		{[]string{"dlq", "replay", replayedID}, "INVALID_TRANSITION", "already replayed"},
		{[]string{"dlq", "skip", "not-an-id"}, "INVALID_ARGUMENT", "event id must be a timeuuid"},
		{[]string{"dlq", "skip", random}, "INVALID_ARGUMENT", "event id must be a timeuuid"},
		{[]string{"dlq", "replay", random}, "INVALID_ARGUMENT", "event id must be a timeuuid"},
		{[]string{"dlq", "skip", unknown.String()}, "NOT_FOUND", "no dead letter"},
		{[]string{"dlq", "replay", unknown.String()}, "NOT_FOUND", "no dead letter"},
	} {
		r := node.Ctl(t, tt.args...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "rejected ("+tt.code+")") || !strings.Contains(r.Stderr, tt.says) {
			t.Errorf("%v: exit %d stderr %q, want %s saying %q", tt.args, r.Code, r.Stderr, tt.code, tt.says)
		}
	}
}

// deadLetter is a dead OrderCreated event of a new order, addressed to
// node's topic.
func deadLetter(t *testing.T, node *harness.Node) *messages.DeadLetter {
	t.Helper()
	id, err := uuid.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	at := timestamppb.New(time.Now().UTC().Truncate(time.Millisecond))
	aggregate := uuid.NewString()
	return &messages.DeadLetter{
		Event: &messages.OutboxEvent{
			EventId: id.String(), AggregateType: "order", AggregateId: aggregate, AggregateVersion: 1,
			EventType: "OrderCreated", Payload: []byte(fmt.Sprintf(`{"order_id":%q}`, aggregate)), OccurredAt: at,
		},
		Topic: node.Topic("OrderCreated"), Error: "broker said no", Attempts: 5, FirstFailedAt: at, LastFailedAt: at,
		State: messages.DeadLetterState_DEAD_LETTER_STATE_DEAD,
	}
}

// checkPublished waits for ev's record in node's topic of ev.EventType: keyed by
// the aggregate id, with ev's event_id header and payload.
func checkPublished(t *testing.T, node *harness.Node, ev *messages.OutboxEvent) {
	t.Helper()
	m := awaitRecord(t, node.Kafka, node.Topic(ev.GetEventType()), ev.GetAggregateId())
	if m.headers["event_id"] != ev.GetEventId() || !strings.Contains(m.value, ev.GetAggregateId()) {
		t.Fatalf("record headers %v value %s; want event %s", m.headers, m.value, ev.GetEventId())
	}
}

// record is one Kafka record as the test reads it.
type record struct {
	value   string
	headers map[string]string
}

// awaitRecord reads topic from the start until a record keyed key arrives.
func awaitRecord(t *testing.T, broker, topic, key string) record {
	t.Helper()
	consumer, err := sarama.NewConsumer([]string{broker}, sarama.NewConfig())
	if err != nil {
		t.Fatalf("kafka consumer: %v", err)
	}
	defer consumer.Close()
	var partitions []int32
	harness.Eventually(t, 15*time.Second, func() error {
		partitions, err = consumer.Partitions(topic)
		return err
	})
	found := make(chan *sarama.ConsumerMessage, len(partitions))
	for _, p := range partitions {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume %s/%d: %v", topic, p, err)
		}
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				if string(m.Key) == key {
					found <- m
				}
			}
		}()
	}
	select {
	case m := <-found:
		r := record{value: string(m.Value), headers: map[string]string{}}
		for _, h := range m.Headers {
			r.headers[string(h.Key)] = string(h.Value)
		}
		return r
	case <-time.After(15 * time.Second):
		t.Fatalf("no record keyed %s in topic %s", key, topic)
	}
	return record{}
}
