package cdc

import (
	"context"
	"sync/atomic"
)

// window is a counting semaphore over the events read but not yet
// checkpointed: the reader takes a slot per event, a progress save gives
// the slots of the events it covers back.
type window struct {
	slots chan struct{}
	// waiters counts the acquires waiting for a slot: the reader is held
	// by the window, not merely idle.
	waiters atomic.Int32
}

func newWindow(n int) *window { return &window{slots: make(chan struct{}, n)} }

// acquire takes one slot, waiting while the window is full; full is
// called before it waits.
func (w *window) acquire(ctx context.Context, full func()) error {
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

// pressed reports whether at least half the window is taken: then
// progress is worth saving at once, to give the slots back.
func (w *window) pressed() bool { return 2*len(w.slots) >= cap(w.slots) }

// release gives n slots back.
func (w *window) release(n int) {
	for range n {
		<-w.slots
	}
}
