package main

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// TestPoisonAndWaitUsesTheShutdownBound stops an actor whose stop outlasts
// a short shutdown bound (an error, not protoactor's fixed 10 s), then one
// that stops in time, and one already gone.
func TestPoisonAndWaitUsesTheShutdownBound(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	release := make(chan struct{})
	slow, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*actor.Stopping); ok {
			<-release
		}
	}), "slow")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := poisonAndWait(ctx, sys, slow); !errors.Is(err, actor.ErrTimeout) {
		t.Errorf("stop past the bound: %v, want %v", err, actor.ErrTimeout)
	}
	close(release)

	quick, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(actor.Context) {}), "quick")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"in time", "already gone"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := poisonAndWait(ctx, sys, quick); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		cancel()
	}
}
