package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
)

const (
	nodeAddr   = "127.0.0.1:8090"
	clientAddr = "127.0.0.1:40000"
)

type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) RemoteRejected(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[reason]++
}

func (c *counts) get(reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[reason]
}

type sent struct {
	pid *actor.PID
	msg any
}

type replies struct {
	mu   sync.Mutex
	sent []sent
}

func (r *replies) Send(pid *actor.PID, msg any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, sent{pid, msg})
}

// fakeStream feeds in to RecvMsg, then io.EOF.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
	in  []*remote.RemoteMessage
}

func (f *fakeStream) Context() context.Context { return f.ctx }

func (f *fakeStream) RecvMsg(m any) error {
	if len(f.in) == 0 {
		return io.EOF
	}
	proto.Merge(m.(*remote.RemoteMessage), f.in[0])
	f.in = f.in[1:]
	return nil
}

func (f *fakeStream) SendMsg(any) error           { return nil }
func (f *fakeStream) SetHeader(metadata.MD) error { return nil }

type fixture struct {
	gw      *Gateway
	counts  *counts
	replies *replies
	log     *strings.Builder
}

func newFixture(t *testing.T, mutate func(*Config)) *fixture {
	t.Helper()
	f := &fixture{counts: &counts{n: map[string]int{}}, replies: &replies{}, log: &strings.Builder{}}
	cfg := Config{
		Address: nodeAddr, AdminWithoutTLS: true, Counter: f.counts, Replier: f.replies,
		Logger: slog.New(slog.NewTextHandler(f.log, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	gw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.gw = gw
	return f
}

// run passes msgs through the stream interceptor and returns what the
// handler (protoactor's endpoint reader) received.
func (f *fixture) run(t *testing.T, cert *x509.Certificate, msgs ...*remote.RemoteMessage) []*remote.RemoteMessage {
	t.Helper()
	p := &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}}
	if cert != nil {
		p.AuthInfo = tlsInfo(cert)
	}
	ss := &fakeStream{ctx: peer.NewContext(context.Background(), p), in: msgs}
	var got []*remote.RemoteMessage
	err := f.gw.stream(nil, ss, &grpc.StreamServerInfo{FullMethod: receiveMethod}, receiveAll(func(m *remote.RemoteMessage) {
		got = append(got, m)
	}))
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	return got
}

// receiveAll is a stream handler that passes every message it receives to
// each, until the stream ends.
func receiveAll(each func(*remote.RemoteMessage)) grpc.StreamHandler {
	return func(_ any, s grpc.ServerStream) error {
		for {
			m := new(remote.RemoteMessage)
			if err := s.RecvMsg(m); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
			each(m)
		}
	}
}

func hello(addr string) *remote.RemoteMessage {
	return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
		ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{SystemId: "x", Address: addr}},
	}}}
}

func batch(b *remote.MessageBatch) *remote.RemoteMessage {
	return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: b}}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// one builds a batch of a single well-formed envelope: msg from the
// client's future to target.
func one(t *testing.T, target *actor.PID, msg proto.Message) *remote.MessageBatch {
	return &remote.MessageBatch{
		TypeNames: []string{string(proto.MessageName(msg))},
		Targets:   []*actor.PID{target},
		Senders:   []*actor.PID{actor.NewPID(clientAddr, "future$1")},
		Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0, Sender: 1, MessageData: mustMarshal(t, msg)}},
	}
}

func TestRefusesEverythingButThePublicAPI(t *testing.T) {
	coord := actor.NewPID(nodeAddr, EntryActor)
	create := &messages.CreateOrder{CustomerId: "c", Amount: "1.00", Currency: "EUR"}
	cases := []struct {
		name   string
		batch  func() *remote.MessageBatch
		reason string
	}{
		{"unknown type", func() *remote.MessageBatch {
			b := one(t, coord, create)
			b.TypeNames[0] = "evil.v1.Nope"
			return b
		}, ReasonUnknownType},
		{"publish event to publisher", func() *remote.MessageBatch {
			return one(t, actor.NewPID(nodeAddr, "coordinator/cdcstream/publisher"), &messages.PublishEvent{})
		}, ReasonInternalType},
		{"dlq store to coordinator", func() *remote.MessageBatch { return one(t, coord, &messages.DLQStore{}) }, ReasonInternalType},
		{"event ack", func() *remote.MessageBatch {
			return one(t, actor.NewPID(nodeAddr, "coordinator/cdcstream"), &messages.EventAck{EventId: "x"})
		}, ReasonInternalType},
		{"poison pill", func() *remote.MessageBatch { return one(t, coord, &actor.PoisonPill{}) }, ReasonSystemMessage},
		{"stop", func() *remote.MessageBatch {
			return one(t, actor.NewPID(nodeAddr, "coordinator/orders"), &actor.Stop{})
		}, ReasonSystemMessage},
		{"watch", func() *remote.MessageBatch {
			return one(t, coord, &actor.Watch{Watcher: actor.NewPID(clientAddr, "w")})
		}, ReasonSystemMessage},
		{"remote spawn", func() *remote.MessageBatch {
			return one(t, actor.NewPID(nodeAddr, "activator"), &remote.ActorPidRequest{Name: "x", Kind: "y"})
		}, ReasonSystemMessage},
		{"public type to a child", func() *remote.MessageBatch {
			return one(t, actor.NewPID(nodeAddr, "coordinator/orders"), create)
		}, ReasonTarget},
		{"public type to another address", func() *remote.MessageBatch {
			return one(t, actor.NewPID("10.1.2.3:8090", EntryActor), create)
		}, ReasonTarget},
		{"target request id", func() *remote.MessageBatch {
			b := one(t, coord, create)
			b.Envelopes[0].TargetRequestId = 7
			return b
		}, ReasonTarget},
		{"type id out of range", func() *remote.MessageBatch {
			b := one(t, coord, create)
			b.Envelopes[0].TypeId = 1
			return b
		}, ReasonBadIndex},
		{"negative type id", func() *remote.MessageBatch {
			b := one(t, coord, create)
			b.Envelopes[0].TypeId = -1
			return b
		}, ReasonBadIndex},
		{"target out of range", func() *remote.MessageBatch {
			b := one(t, coord, create)
			b.Envelopes[0].Target = 3
			return b
		}, ReasonBadIndex},
		{"sender out of range", func() *remote.MessageBatch {
			b := one(t, coord, create)
			b.Envelopes[0].Sender = 2
			return b
		}, ReasonBadIndex},
		{"json serializer", func() *remote.MessageBatch {
			b := one(t, coord, create)
			b.Envelopes[0].SerializerId = 1
			return b
		}, ReasonSerializer},
		{"garbage payload", func() *remote.MessageBatch {
			b := one(t, coord, create)
			b.Envelopes[0].MessageData = []byte{0xff, 0xff, 0xff}
			return b
		}, ReasonMalformed},
		{"sender on the node itself", func() *remote.MessageBatch {
			b := one(t, coord, create)
			b.Senders[0] = actor.NewPID(nodeAddr, "coordinator/dlq")
			return b
		}, ReasonSender},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			got := f.run(t, nil, hello(clientAddr), batch(c.batch()))
			if len(got) != 1 || got[0].GetConnectRequest() == nil {
				t.Fatalf("handler got %v, want the ConnectRequest only", got)
			}
			if f.counts.get(c.reason) != 1 {
				t.Errorf("counts %v, want one %s", f.counts.n, c.reason)
			}
			if !strings.Contains(f.log.String(), "reason="+c.reason) {
				t.Errorf("log lacks the refusal: %s", f.log.String())
			}
		})
	}
}

func TestPassesPublicRequestsAndKeepsOnlyGoodEnvelopes(t *testing.T) {
	f := newFixture(t, nil)
	coord := actor.NewPID(nodeAddr, EntryActor)
	b := one(t, coord, &messages.HealthQuery{})
	b.TypeNames = append(b.TypeNames, "actor.PoisonPill")
	b.Envelopes = append(b.Envelopes, &remote.MessageEnvelope{TypeId: 1, Target: 0})
	b.Envelopes = append(b.Envelopes, &remote.MessageEnvelope{TypeId: 0, Target: 0, Sender: 0, MessageData: nil})
	got := f.run(t, nil, hello(clientAddr), batch(b), batch(&remote.MessageBatch{}))
	if len(got) != 2 {
		t.Fatalf("handler got %d messages, want handshake + one batch (the empty batch is skipped)", len(got))
	}
	envs := got[1].GetMessageBatch().GetEnvelopes()
	if len(envs) != 2 || envs[0].TypeId != 0 || envs[1].TypeId != 0 {
		t.Fatalf("kept envelopes %v, want the two HealthQuery ones", envs)
	}
	if f.counts.get(ReasonSystemMessage) != 1 {
		t.Errorf("counts %v", f.counts.n)
	}
}

func TestHandshakeRules(t *testing.T) {
	coord := actor.NewPID(nodeAddr, EntryActor)
	clientConn := &remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
		ConnectionType: &remote.ConnectRequest_ClientConnection{ClientConnection: &remote.ClientConnection{SystemId: "x"}},
	}}}
	for name, msgs := range map[string][]*remote.RemoteMessage{
		"batch before connect":  {batch(one(t, coord, &messages.HealthQuery{}))},
		"client connection":     {clientConn},
		"node's own address":    {hello(nodeAddr)},
		"disconnect request":    {{MessageType: &remote.RemoteMessage_DisconnectRequest{DisconnectRequest: &remote.DisconnectRequest{}}}},
		"second connect":        {hello(clientAddr), hello("127.0.0.1:1")},
		"sender of another one": {hello("127.0.0.1:1"), batch(one(t, coord, &messages.HealthQuery{}))},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, nil)
			got := f.run(t, nil, msgs...)
			for _, m := range got {
				if m.GetMessageBatch() != nil {
					t.Errorf("a batch passed: %v", m)
				}
			}
			if f.counts.get(ReasonHandshake)+f.counts.get(ReasonSender) != 1 {
				t.Errorf("counts %v, want one handshake or sender refusal", f.counts.n)
			}
		})
	}
}

func certWithCN(cn string) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: cn}}
}

func TestAdminOnlyNeedsAnAdminAndAnswersTheSender(t *testing.T) {
	coord := actor.NewPID(nodeAddr, EntryActor)
	skip := func() *remote.MessageBatch {
		b := one(t, coord, &messages.DLQSkip{EventId: "e"})
		b.Envelopes[0].SenderRequestId = 42
		return b
	}
	t.Run("tls non-admin", func(t *testing.T) {
		f := newFixture(t, func(c *Config) { c.TLS, c.Admins, c.AdminWithoutTLS = &TLS{}, []string{"ops"}, false })
		got := f.run(t, certWithCN("viewer"), hello(clientAddr), batch(skip()), batch(one(t, coord, &messages.DLQList{})))
		if len(got) != 2 || got[1].GetMessageBatch().GetEnvelopes()[0].TypeId != 0 ||
			got[1].GetMessageBatch().GetTypeNames()[0] != string(proto.MessageName(&messages.DLQList{})) {
			t.Fatalf("handler got %v, want handshake + DLQList", got)
		}
		if f.counts.get(ReasonPermissionDenied) != 1 {
			t.Errorf("counts %v", f.counts.n)
		}
		if len(f.replies.sent) != 1 {
			t.Fatalf("replies %v, want one CommandRejected", f.replies.sent)
		}
		r := f.replies.sent[0]
		rej, ok := r.msg.(*messages.CommandRejected)
		if !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_PERMISSION_DENIED || r.pid.Address != clientAddr ||
			r.pid.Id != "future$1" || r.pid.RequestId != 42 {
			t.Errorf("reply %v to %v", r.msg, r.pid)
		}
	})
	t.Run("tls admin", func(t *testing.T) {
		f := newFixture(t, func(c *Config) { c.TLS, c.Admins, c.AdminWithoutTLS = &TLS{}, []string{"ops"}, false })
		if got := f.run(t, certWithCN("ops"), hello(clientAddr), batch(skip())); len(got) != 2 {
			t.Fatalf("admin's DLQSkip refused: %v", f.counts.n)
		}
	})
	t.Run("no tls, not loopback", func(t *testing.T) {
		f := newFixture(t, func(c *Config) { c.AdminWithoutTLS = false })
		if got := f.run(t, nil, hello(clientAddr), batch(one(t, coord, &messages.InjectFault{Actor: "health"}))); len(got) != 1 {
			t.Fatalf("InjectFault passed without TLS off loopback")
		}
		if f.counts.get(ReasonPermissionDenied) != 1 || len(f.replies.sent) != 1 {
			t.Errorf("counts %v replies %v", f.counts.n, f.replies.sent)
		}
	})
	t.Run("no tls, loopback", func(t *testing.T) {
		f := newFixture(t, nil)
		if got := f.run(t, nil, hello(clientAddr), batch(skip())); len(got) != 2 {
			t.Fatalf("DLQSkip refused on a loopback node without TLS: %v", f.counts.n)
		}
	})
}

func TestMemberClassGetsItsOwnRules(t *testing.T) {
	member := Rules{"partition-activator": {proto.MessageName(&messages.HealthQuery{}): Anyone}}
	policy := Policy{Client: PublicRules(), Member: member, IsMember: func(c *x509.Certificate) bool { return c.Subject.CommonName == "node-2" }}
	target := actor.NewPID(nodeAddr, "partition-activator")
	f := newFixture(t, func(c *Config) { c.Policy, c.TLS, c.AdminWithoutTLS = policy, &TLS{}, false })
	if got := f.run(t, certWithCN("node-2"), hello(clientAddr), batch(one(t, target, &messages.HealthQuery{}))); len(got) != 2 {
		t.Errorf("member refused: %v", f.counts.n)
	}
	if got := f.run(t, certWithCN("client"), hello(clientAddr), batch(one(t, target, &messages.HealthQuery{}))); len(got) != 1 {
		t.Errorf("client reached a member-only actor")
	}
	if got := f.run(t, certWithCN("node-2"), hello(clientAddr), batch(one(t, actor.NewPID(nodeAddr, EntryActor), &messages.HealthQuery{}))); len(got) != 1 {
		t.Errorf("member got the client rules too")
	}
}

func TestRecoversPanicsAndRefusesUnaryRPCs(t *testing.T) {
	f := newFixture(t, nil)
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{}})
	err := f.gw.stream(nil, &fakeStream{ctx: ctx}, &grpc.StreamServerInfo{FullMethod: receiveMethod}, func(any, grpc.ServerStream) error {
		var targets []*actor.PID
		_ = targets[3] // what protoactor's reader does with a bad index
		return nil
	})
	if status.Code(err) != codes.Internal || f.counts.get(ReasonPanic) != 1 {
		t.Errorf("panic: err %v counts %v", err, f.counts.n)
	}
	called := false
	_, err = f.gw.unary(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/remote.Remoting/ListProcesses"}, func(context.Context, any) (any, error) {
		called = true
		return nil, nil
	})
	if status.Code(err) != codes.Unimplemented || called || f.counts.get(ReasonUnimplemented) != 1 {
		t.Errorf("unary: err %v called %v counts %v", err, called, f.counts.n)
	}
}

func TestRefusalLogIsRateLimited(t *testing.T) {
	f := newFixture(t, nil)
	coord := actor.NewPID(nodeAddr, EntryActor)
	msgs := []*remote.RemoteMessage{hello(clientAddr)}
	for range 1000 {
		msgs = append(msgs, batch(one(t, coord, &actor.PoisonPill{})))
	}
	f.run(t, nil, msgs...)
	if f.counts.get(ReasonSystemMessage) != 1000 {
		t.Errorf("counted %d, want 1000", f.counts.get(ReasonSystemMessage))
	}
	if lines := strings.Count(f.log.String(), "remote message refused"); lines > 20 {
		t.Errorf("%d log lines for 1000 refusals", lines)
	}
}

func TestLimiterRefillsAndReportsSuppressed(t *testing.T) {
	l := newLimiter(2, time.Second)
	now := time.Unix(0, 0)
	for i := range 2 {
		if ok, _ := l.allow(now); !ok {
			t.Fatalf("call %d refused within the burst", i)
		}
	}
	if ok, _ := l.allow(now); ok {
		t.Fatal("third call allowed")
	}
	ok, suppressed := l.allow(now.Add(time.Second))
	if !ok || suppressed != 1 {
		t.Errorf("after refill: ok %v suppressed %d", ok, suppressed)
	}
}

func TestNewValidates(t *testing.T) {
	ok := Config{Address: nodeAddr, Counter: &counts{}, Replier: &replies{}, Logger: slog.New(slog.DiscardHandler)}
	for name, mutate := range map[string]func(*Config){
		"no address":          func(c *Config) { c.Address = "" },
		"admins, no TLS":      func(c *Config) { c.Admins = []string{"ops"} },
		"no counter":          func(c *Config) { c.Counter = nil },
		"unknown policy":      func(c *Config) { c.Policy = Policy{Client: Rules{EntryActor: {"nope.v1.X": Anyone}}} },
		"members with admins": func(c *Config) { c.Members, c.AdminWithoutTLS = true, true },
	} {
		c := ok
		mutate(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := New(ok); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func tlsInfo(cert *x509.Certificate) credentials.TLSInfo {
	return credentials.TLSInfo{State: tls.ConnectionState{
		PeerCertificates: []*x509.Certificate{cert},
		VerifiedChains:   [][]*x509.Certificate{{cert}},
	}}
}

func TestMembersReachAnyActorButEnvelopesAreStillChecked(t *testing.T) {
	grain := actor.NewPID(nodeAddr, "partition-activator/order/0f0e")
	activation := &messages.ClusterQuery{}
	pass := map[string]func() *remote.MessageBatch{
		"system message to a grain": func() *remote.MessageBatch {
			return one(t, grain, &actor.Watch{Watcher: actor.NewPID(clientAddr, "w")})
		},
		"reply to a future": func() *remote.MessageBatch {
			b := one(t, actor.NewPID(nodeAddr, "future$7"), &messages.CommandAccepted{})
			b.Envelopes[0].TargetRequestId = 7
			return b
		},
		"internal type to any actor": func() *remote.MessageBatch { return one(t, grain, activation) },
	}
	for name, b := range pass {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.Members, c.AdminWithoutTLS = true, false })
			if got := f.run(t, nil, hello(clientAddr), batch(b())); len(got) != 2 {
				t.Fatalf("refused: %v %s", f.counts.n, f.log.String())
			}
		})
	}
	refuse := []struct {
		name   string
		batch  func() *remote.MessageBatch
		reason string
	}{
		{"unknown type", func() *remote.MessageBatch {
			b := one(t, grain, activation)
			b.TypeNames[0] = "evil.v1.Nope"
			return b
		}, ReasonUnknownType},
		{"another address (relay)", func() *remote.MessageBatch {
			return one(t, actor.NewPID("10.1.2.3:8091", "x"), activation)
		}, ReasonTarget},
		{"target out of range", func() *remote.MessageBatch {
			b := one(t, grain, activation)
			b.Envelopes[0].Target = 5
			return b
		}, ReasonBadIndex},
		{"json serializer", func() *remote.MessageBatch {
			b := one(t, grain, activation)
			b.Envelopes[0].SerializerId = 1
			return b
		}, ReasonSerializer},
		{"garbage payload", func() *remote.MessageBatch {
			b := one(t, grain, activation)
			b.Envelopes[0].MessageData = []byte{0xff, 0xff, 0xff}
			return b
		}, ReasonMalformed},
		{"spoofed sender", func() *remote.MessageBatch {
			b := one(t, grain, activation)
			b.Senders[0] = actor.NewPID(nodeAddr, "coordinator")
			return b
		}, ReasonSender},
	}
	for _, c := range refuse {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.Members, c.AdminWithoutTLS = true, false })
			if got := f.run(t, nil, hello(clientAddr), batch(c.batch())); len(got) != 1 {
				t.Fatalf("handler got %v, want the ConnectRequest only", got)
			}
			if f.counts.get(c.reason) != 1 {
				t.Errorf("counts %v, want one %s", f.counts.n, c.reason)
			}
		})
	}
}
