package checkpoint

import (
	"context"
	"sync/atomic"
	"time"
)

// Window is a counting semaphore over the events read but not yet
// checkpointed: the reader takes a slot per event, a progress save gives
// the slots of the events it covers back.
type Window struct {
	slots chan struct{}
	// waiters counts the acquires waiting for a slot: the reader is held
	// by the window, not merely idle.
	waiters atomic.Int32
}

// NewWindow returns a window of n slots.
func NewWindow(n int) *Window { return &Window{slots: make(chan struct{}, n)} }

// Acquire takes one slot, waiting while the window is full; full is
// called before it waits.
func (w *Window) Acquire(ctx context.Context, full func()) error {
	select {
	case w.slots <- struct{}{}:
		return nil
	default:
	}
	full()
	w.waiters.Add(1)
	defer w.waiters.Add(-1)
	select {
	case w.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pressed reports whether at least half the Window is taken: then
// progress is worth saving at once, to give the slots back.
func (w *Window) Pressed() bool { return 2*len(w.slots) >= cap(w.slots) }

// Waiters is the number of acquires waiting for a slot.
func (w *Window) Waiters() int { return int(w.waiters.Load()) }

// Release gives n slots back.
func (w *Window) Release(n int) {
	for range n {
		<-w.slots
	}
}

// Every calls fn after each interval, and at once when kick fires (a nil
// kick never does), until ctx ends.
func Every(ctx context.Context, interval time.Duration, kick <-chan struct{}, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
		fn()
	}
}
