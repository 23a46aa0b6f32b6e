package harness

import (
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
)

var (
	clientOnce sync.Once
	clientSys  *actor.ActorSystem
)

// Client returns this test process's actor system with its remote started
// on a free loopback port, for benchmarks and tests that send requests to
// a node directly. There is one per process: Remote.Start replaces the
// gRPC logger globally, and a second remote races with the first under
// -race. It is never shut down.
func Client() *actor.ActorSystem {
	clientOnce.Do(func() {
		quiet := slog.New(slog.DiscardHandler)
		clientSys = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
		remote.NewRemote(clientSys, remote.Configure("127.0.0.1", 0)).Start()
	})
	return clientSys
}
