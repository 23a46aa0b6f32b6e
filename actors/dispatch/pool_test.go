package dispatch_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/actors/dispatch"
	"github.com/outboxnode/outbox/internal/poll"
)

// A run that blocks (an actor waiting on its store) must not hold back the
// runs scheduled after it.
func TestBlockedRunsDoNotQueueOthers(t *testing.T) {
	p := dispatch.NewPool(300, 50*time.Millisecond)
	const runs = 50
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(runs)
	for range runs {
		p.Schedule(func() {
			started.Done()
			<-release
		})
	}
	done := make(chan struct{})
	go func() { started.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("not every run started while the earlier ones blocked")
	}
	close(release)
}

// Goroutines that found no work for their idle time exit, and later runs
// still run.
func TestIdleGoroutinesExit(t *testing.T) {
	before := runtime.NumGoroutine()
	p := dispatch.NewPool(300, 20*time.Millisecond)
	var wg sync.WaitGroup
	wg.Add(10)
	for range 10 {
		p.Schedule(wg.Done)
	}
	wg.Wait()
	poll.Eventually(t, 10*time.Second, poll.True("idle goroutines exited", func() bool { return runtime.NumGoroutine() <= before }))
	ran := make(chan struct{})
	p.Schedule(func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("a run after the idle exit did not run")
	}
}

// Actors on the pool process their messages in order, one at a time.
func TestActorsRunOnThePool(t *testing.T) {
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	p := dispatch.NewPool(2, time.Minute)
	got := make(chan int, 100)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if n, ok := ctx.Message().(int); ok {
			got <- n
		}
	}, actor.WithDispatcher(p)))
	for i := range 100 {
		sys.Root.Send(pid, i)
	}
	for want := range 100 {
		select {
		case n := <-got:
			if n != want {
				t.Fatalf("message %d arrived as %d", n, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d never processed", want)
		}
	}
}
