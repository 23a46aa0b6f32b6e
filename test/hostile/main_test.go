// Package hostile attacks a running outbox-node (the built binary, started
// by test/harness) through its Proto.Actor remote port the way an attacker
// would: hand-built envelopes on protoactor's own gRPC stream, protoactor's
// unary RPCs, random bytes, and outboxctl with wrong or missing
// certificates. After every attack the node must still serve, and nothing
// forged may reach Kafka, the DLQ or the actors.
package hostile

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/test/harness"
)

// rawPeer is a hand-driven connection to a node's remote: protoactor's
// gRPC Receive stream without protoactor's client.
type rawPeer struct {
	conn   *grpc.ClientConn
	stream remote.Remoting_ReceiveClient
	// addr is the reply address the peer declares (nothing listens there).
	addr string
}

// dialRaw opens a stream to the node at addr; with hello it first sends
// the ServerConnection handshake and reads the node's ConnectResponse.
func dialRaw(t *testing.T, addr string, hello bool) *rawPeer {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); conn.Close() })
	stream, err := remote.NewRemotingClient(conn).Receive(ctx)
	if err != nil {
		t.Fatalf("open Receive stream: %v", err)
	}
	p := &rawPeer{conn: conn, stream: stream, addr: "127.0.0.1:1"}
	if hello {
		p.send(t, &remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
			ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{SystemId: "attacker", Address: p.addr}},
		}}})
		reply, err := stream.Recv()
		if err != nil || reply.GetConnectResponse() == nil {
			t.Fatalf("handshake: reply %v, err %v", reply, err)
		}
	}
	return p
}

func (p *rawPeer) send(t *testing.T, m *remote.RemoteMessage) {
	t.Helper()
	if err := p.stream.Send(m); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func (p *rawPeer) sendBatch(t *testing.T, b *remote.MessageBatch) {
	t.Helper()
	p.send(t, &remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: b}})
}

// envelope builds a batch of one envelope carrying msg to target, without
// a sender (fire and forget).
func envelope(t *testing.T, target *actor.PID, msg proto.Message) *remote.MessageBatch {
	t.Helper()
	data, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return &remote.MessageBatch{
		TypeNames: []string{string(proto.MessageName(msg))},
		Targets:   []*actor.PID{target},
		Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0, MessageData: data}},
	}
}

// metric returns the value of one series (full name with labels as
// exposed, e.g. `remote_rejected_total{reason="target"}`), 0 when absent.
func metric(t *testing.T, node *harness.Node, series string) float64 {
	t.Helper()
	body, _ := node.HTTPGet(t, "/metrics")
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return f
		}
	}
	return 0
}

func rejectedSeries(reason string) string {
	return fmt.Sprintf("remote_rejected_total{reason=%q}", reason)
}

// awaitMetric waits until series is want.
func awaitMetric(t *testing.T, node *harness.Node, series string, want float64) {
	t.Helper()
	awaitMetricWhere(t, node, series, fmt.Sprint(want), func(v float64) bool { return v == want })
}

// awaitMetricWhere waits until ok accepts the value of series (described
// by want in the error).
func awaitMetricWhere(t *testing.T, node *harness.Node, series, want string, ok func(float64) bool) {
	t.Helper()
	harness.Eventually(t, 20*time.Second, func() error {
		if got := metric(t, node, series); !ok(got) {
			return fmt.Errorf("%s = %v, want %s", series, got, want)
		}
		return nil
	})
}

// mustServe checks the node is alive and useful: /health answers 200 and
// outboxctl creates an order. It returns the order id.
func mustServe(t *testing.T, node *harness.Node, ctlArgs ...string) string {
	t.Helper()
	// Healthy within a deadline: right after start the producer may not
	// have reached the broker yet (kafka "not reached yet", 503).
	err := poll.Until(context.Background(), 15*time.Second, func() error {
		if body, code := node.HTTPGet(t, "/health"); code != 200 {
			return fmt.Errorf("/health %d: %s", code, body)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\nnode log:\n%s", err, tail(node.Log(), 30))
	}
	r := node.Ctl(t, append(ctlArgs, "order", "create", "--customer", "alive", "--amount", "1.00")...)
	if r.Code != 0 {
		t.Fatalf("order create: exit %d: %s\nnode log:\n%s", r.Code, r.Stderr, tail(node.Log(), 30))
	}
	return strings.TrimSpace(r.Stdout)
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// topicKeys reads every partition of topic from the start up to its
// current end and returns the record keys.
func topicKeys(t *testing.T, broker, topic string) map[string]bool {
	t.Helper()
	client, err := sarama.NewClient([]string{broker}, sarama.NewConfig())
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatalf("kafka consumer: %v", err)
	}
	defer consumer.Close()
	partitions, err := client.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	keys := map[string]bool{}
	for _, p := range partitions {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("end of %s/%d: %v", topic, p, err)
		}
		start, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("start of %s/%d: %v", topic, p, err)
		}
		if end <= start {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, start)
		if err != nil {
			t.Fatalf("consume %s/%d: %v", topic, p, err)
		}
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				keys[string(m.Key)] = true
				done = m.Offset >= end-1
			case <-time.After(20 * time.Second):
				t.Fatalf("%s/%d: no record up to offset %d within 20s", topic, p, end-1)
			}
		}
		pc.Close()
	}
	return keys
}
