package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/outboxnode/outbox/infra/gateway"
	"github.com/outboxnode/outbox/internal/racefree"
	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *tally) RemoteRejected(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[reason]++
}

func (c *tally) get(reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[reason]
}

// member starts an actor system whose remote is guarded as a members'
// remote, as a cluster member's would be.
func member(t *testing.T) (*actor.ActorSystem, string, *tally) {
	t.Helper()
	addr := harness.FreeAddr(t)
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	counts := &tally{n: map[string]int{}}
	gw, err := gateway.New(gateway.Config{Address: addr, Members: true, Counter: counts, Replier: sys.Root, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r := remote.NewRemote(sys, remote.Configure(host, port, remote.WithAdvertisedHost(addr), remote.WithServerOptions(gw.ServerOptions()...)))
	r.Start()
	t.Cleanup(func() { r.Shutdown(true); sys.Shutdown() })
	return sys, addr, counts
}

// TestMembersTalkThroughTheGuardAndSurviveGarbage runs two real remotes in
// members mode: a request to any actor of the other and its reply (to a
// future) pass both guards, a peer's garbage envelope is refused without
// a panic, and the member answers the next request. Two remotes in one
// process trip protoactor's own races, so under -race it runs without the
// detector (racefree).
func TestMembersTalkThroughTheGuardAndSurviveGarbage(t *testing.T) {
	if racefree.Rerun(t) {
		return
	}
	a, _, _ := member(t)
	b, bAddr, bCounts := member(t)
	if _, err := b.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if q, ok := ctx.Message().(*messages.GetOrder); ok {
			ctx.Respond(&messages.CommandAccepted{OrderId: q.GetOrderId()})
		}
	}), "partition-activator/order/42"); err != nil {
		t.Fatal(err)
	}
	ask := func() {
		t.Helper()
		res, err := a.Root.RequestFuture(actor.NewPID(bAddr, "partition-activator/order/42"), &messages.GetOrder{OrderId: "42"}, 10*time.Second).Result()
		if err != nil {
			t.Fatalf("request through the members' guards: %v", err)
		}
		if r, ok := res.(*messages.CommandAccepted); !ok || r.GetOrderId() != "42" {
			t.Fatalf("reply %v", res)
		}
	}
	ask()

	conn, err := grpc.NewClient(bAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := remote.NewRemotingClient(conn).Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	garbage := []*remote.RemoteMessage{
		{MessageType: &remote.RemoteMessage_ConnectRequest{ConnectRequest: &remote.ConnectRequest{
			ConnectionType: &remote.ConnectRequest_ServerConnection{ServerConnection: &remote.ServerConnection{SystemId: "x", Address: "127.0.0.1:1"}},
		}}},
		{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: &remote.MessageBatch{
			TypeNames: []string{"actor.PoisonPill"},
			Targets:   []*actor.PID{actor.NewPID(bAddr, "partition-activator/order/42")},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 3, Target: 9}},
		}}},
	}
	for _, m := range garbage {
		if err := stream.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	harness.Eventually(t, 10*time.Second, func() error {
		if n := bCounts.get(gateway.ReasonBadIndex); n != 1 {
			return fmt.Errorf("bad index refusals %d, want 1", n)
		}
		return nil
	})
	ask()
}
