package gateway

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
)

// BenchmarkAdmitBatch measures the gateway's cost on the command path: one
// op is a batch of 100 CreateOrder envelopes (the shape protoactor's
// writer sends under load) read from the stream, checked and passed on.
// "direct" reads the same stream without the gateway: the difference is
// the gateway's share.
func BenchmarkAdmitBatch(b *testing.B) {
	b.Run("direct", func(b *testing.B) { benchmarkBatch(b, false) })
	b.Run("gateway", func(b *testing.B) { benchmarkBatch(b, true) })
}

func benchmarkBatch(b *testing.B, guarded bool) {
	gw, err := New(Config{Address: nodeAddr, AdminWithoutTLS: true, Counter: &counts{n: map[string]int{}}, Replier: &replies{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	data, err := proto.Marshal(&messages.CreateOrder{CustomerId: "customer-1", Amount: "12.50", Currency: "EUR", Items: []*messages.Item{{Sku: "SKU-1", Quantity: 2}}})
	if err != nil {
		b.Fatal(err)
	}
	mb := &remote.MessageBatch{
		TypeNames: []string{string(proto.MessageName(&messages.CreateOrder{}))},
		Targets:   []*actor.PID{actor.NewPID(nodeAddr, EntryActor)},
		Senders:   []*actor.PID{actor.NewPID(clientAddr, "future$1")},
	}
	for i := range 100 {
		mb.Envelopes = append(mb.Envelopes, &remote.MessageEnvelope{Sender: 1, SenderRequestId: uint32(i + 1), MessageData: data})
	}
	msgs := []*remote.RemoteMessage{hello(clientAddr)}
	for range b.N {
		msgs = append(msgs, batch(mb))
	}
	ss := &fakeStream{ctx: peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{}}), in: msgs}
	read := receiveAll(func(m *remote.RemoteMessage) {
		if n := len(m.GetMessageBatch().GetEnvelopes()); m.GetMessageBatch() != nil && n != 100 {
			b.Fatalf("%d envelopes passed, want 100", n)
		}
	})
	b.ResetTimer()
	if guarded {
		err = gw.stream(nil, ss, &grpc.StreamServerInfo{FullMethod: receiveMethod}, read)
	} else {
		err = read(nil, ss)
	}
	if err != nil {
		b.Fatal(err)
	}
}
