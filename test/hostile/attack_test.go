package hostile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// forgedEvent is an outbox event no command wrote, keyed by its own
// aggregate id so that its absence from Kafka can be checked.
func forgedEvent() *messages.OutboxEvent {
	return &messages.OutboxEvent{
		EventId: uuid.NewString(), AggregateType: "order", AggregateId: uuid.NewString(), AggregateVersion: 1,
		EventType: "OrderCreated", Payload: []byte(`{"forged":true}`), OccurredAt: timestamppb.Now(),
	}
}

// attack is one envelope the gateway must refuse, and the reason it
// counts the refusal under.
type attack struct {
	name   string
	batch  *remote.MessageBatch
	reason string
}

// edited returns b after edit.
func edited(b *remote.MessageBatch, edit func(*remote.MessageBatch)) *remote.MessageBatch {
	edit(b)
	return b
}

// TestHostileEnvelopesAreRefused sends, one attack at a time, every kind of
// envelope the gateway must refuse, and after each checks the refusal was
// counted under its reason and the node still serves. At the end nothing
// forged reached Kafka or the DLQ. A well-formed public request on the same
// raw stream is the control: it reaches the coordinator.
func TestHostileEnvelopesAreRefused(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)
	pid := func(id string) *actor.PID { return actor.NewPID(node.Remote, id) }
	coord := pid("coordinator")
	create := &messages.CreateOrder{CustomerId: "raw", Amount: "2.00", Currency: "EUR"}
	published := forgedEvent()
	stored := forgedEvent()
	deadLetter := &messages.DLQStore{Entries: []*messages.DeadLetter{{
		Event: stored, Topic: "OrderCreated", Error: "forged", Attempts: 1, State: messages.DeadLetterState_DEAD_LETTER_STATE_DEAD,
	}}}
	attacks := []attack{
		{"unknown type name", edited(envelope(t, coord, create), func(b *remote.MessageBatch) { b.TypeNames[0] = "evil.v1.Crash" }), "unknown_type"},
		{"PublishEvent to the publisher", envelope(t, pid("coordinator/cdcstream/publisher"), &messages.PublishEvent{Event: published}), "internal_type"},
		{"PublishEvent to the coordinator", envelope(t, coord, &messages.PublishEvent{Event: published}), "internal_type"},
		{"DLQStore to the dlq", envelope(t, pid("coordinator/dlq"), deadLetter), "internal_type"},
		{"forged EventAck to the stream", envelope(t, pid("coordinator/cdcstream"), &messages.EventAck{
			EventId: stored.GetEventId(), Outcome: messages.AckOutcome_ACK_OUTCOME_PUBLISHED,
		}), "internal_type"},
		{"PoisonPill to the coordinator", envelope(t, coord, &actor.PoisonPill{}), "system_message"},
		{"PoisonPill to orders", envelope(t, pid("coordinator/orders"), &actor.PoisonPill{}), "system_message"},
		{"Stop to the coordinator", envelope(t, coord, &actor.Stop{}), "system_message"},
		{"Stop to orders", envelope(t, pid("coordinator/orders"), &actor.Stop{}), "system_message"},
		{"Watch on the coordinator", envelope(t, coord, &actor.Watch{Watcher: actor.NewPID("127.0.0.1:1", "spy")}), "system_message"},
		{"Unwatch on orders", envelope(t, pid("coordinator/orders"), &actor.Unwatch{Watcher: actor.NewPID("127.0.0.1:1", "spy")}), "system_message"},
		{"Terminated to the coordinator", envelope(t, coord, &actor.Terminated{Who: pid("coordinator/orders")}), "system_message"},
		{"public request to orders", envelope(t, pid("coordinator/orders"), create), "target"},
		{"public request to another address", envelope(t, actor.NewPID("10.9.8.7:8090", "coordinator"), create), "target"},
		{"type id out of range", edited(envelope(t, coord, create), func(b *remote.MessageBatch) { b.Envelopes[0].TypeId = 9 }), "bad_index"},
		{"negative type id", edited(envelope(t, coord, create), func(b *remote.MessageBatch) { b.Envelopes[0].TypeId = -1 }), "bad_index"},
		{"target out of range", edited(envelope(t, coord, create), func(b *remote.MessageBatch) { b.Envelopes[0].Target = 1 }), "bad_index"},
		{"negative target", edited(envelope(t, coord, create), func(b *remote.MessageBatch) { b.Envelopes[0].Target = -5 }), "bad_index"},
		{"sender out of range", edited(envelope(t, coord, create), func(b *remote.MessageBatch) { b.Envelopes[0].Sender = 1 }), "bad_index"},
		{"JSON serializer", edited(envelope(t, coord, create), func(b *remote.MessageBatch) { b.Envelopes[0].SerializerId = 1 }), "serializer"},
		{"serializer out of range", edited(envelope(t, coord, create), func(b *remote.MessageBatch) { b.Envelopes[0].SerializerId = 99 }), "serializer"},
		{"garbage payload", edited(envelope(t, coord, create), func(b *remote.MessageBatch) { b.Envelopes[0].MessageData = []byte{0x0a, 0xff, 0xff, 0xff} }), "malformed"},
		{"batch without type names", edited(envelope(t, coord, create), func(b *remote.MessageBatch) { b.TypeNames = nil }), "bad_index"},
		{"replies sent to an internal actor", edited(envelope(t, coord, create), func(b *remote.MessageBatch) {
			b.Senders = []*actor.PID{pid("coordinator/dlq")}
			b.Envelopes[0].Sender = 1
		}), "sender"},
	}
	peer := dialRaw(t, node.Remote, true)
	want := map[string]float64{}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			peer.sendBatch(t, a.batch)
			want[a.reason]++
			awaitMetric(t, node, rejectedSeries(a.reason), want[a.reason])
			mustServe(t, node)
		})
	}

	t.Run("empty batch", func(t *testing.T) {
		peer.sendBatch(t, &remote.MessageBatch{})
		peer.sendBatch(t, &remote.MessageBatch{TypeNames: []string{"x"}, Targets: []*actor.PID{coord}})
		mustServe(t, node)
	})
	t.Run("batch before the handshake", func(t *testing.T) {
		dialRaw(t, node.Remote, false).sendBatch(t, envelope(t, coord, &actor.PoisonPill{}))
		awaitMetric(t, node, rejectedSeries("handshake"), 1)
		mustServe(t, node)
	})
	t.Run("control: a public request on the same raw stream is served", func(t *testing.T) {
		session := node.Session(t)
		count := func() (n int64) {
			if err := session.Session.Query("SELECT COUNT(*) FROM " + node.Keyspace + ".orders").Scan(&n); err != nil {
				t.Fatalf("count orders: %v", err)
			}
			return n
		}
		before := count()
		peer.sendBatch(t, envelope(t, coord, create))
		harness.Eventually(t, 20*time.Second, func() error {
			if n := count(); n != before+1 {
				return fmt.Errorf("%d orders, want %d", n, before+1)
			}
			return nil
		})
	})

	// Nothing forged arrived anywhere. The last order's event is in Kafka,
	// so a PublishEvent sent long before it would be there too.
	last := mustServe(t, node)
	harness.Eventually(t, 30*time.Second, func() error {
		if keys := topicKeys(t, node.Kafka, node.Topic("OrderCreated")); !keys[last] {
			return errNotYet
		}
		return nil
	})
	keys := topicKeys(t, node.Kafka, node.Topic("OrderCreated"))
	if keys[published.GetAggregateId()] || keys[stored.GetAggregateId()] {
		t.Errorf("a forged event reached Kafka")
	}
	if r := node.Ctl(t, "dlq", "list"); r.Code != 0 || r.Stdout != "no dead letters" {
		t.Errorf("dlq list: exit %d %q %s", r.Code, r.Stdout, r.Stderr)
	}
	if log := node.Log(); strings.Contains(log, "panicked") || strings.Contains(log, "child stopped") {
		t.Errorf("node log mentions a panic or a stopped actor:\n%s", tail(log, 40))
	}
	if n := metric(t, node, rejectedSeries("panic")); n != 0 {
		t.Errorf("%v remote handler panics", n)
	}
}

var errNotYet = errors.New("the last order is not in Kafka yet")

// TestUnaryRPCsAndRandomBytes calls protoactor's unary RPCs (which panic
// upstream) and writes random bytes to the port; the node keeps serving.
func TestUnaryRPCsAndRandomBytes(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)
	client := remote.NewRemotingClient(dialRaw(t, node.Remote, false).conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.ListProcesses(ctx, &remote.ListProcessesRequest{Pattern: "coordinator"}); status.Code(err) != codes.Unimplemented {
		t.Errorf("ListProcesses: %v, want Unimplemented", err)
	}
	if _, err := client.GetProcessDiagnostics(ctx, &remote.GetProcessDiagnosticsRequest{Pid: actor.NewPID(node.Remote, "coordinator")}); status.Code(err) != codes.Unimplemented {
		t.Errorf("GetProcessDiagnostics: %v, want Unimplemented", err)
	}
	awaitMetric(t, node, rejectedSeries("unimplemented"), 2)
	mustServe(t, node)

	writeJunk(t, node.Remote)
	mustServe(t, node)
}
