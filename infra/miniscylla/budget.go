package miniscylla

import (
	"context"
	"sync"
)

// budget is the server-wide bound on the bytes of request frames in flight,
// across all connections: a frame's body is reserved before it is read and
// released once its request has been answered. A reader that cannot reserve
// waits, which stops reading its socket (back-pressure on that client only).
//
// Waiters are served by size, not strictly in arrival order: whenever bytes
// are released, every waiting reservation that now fits is granted. A
// statement of a few hundred bytes therefore never queues behind a client
// that asked for hundreds of megabytes; the price is that a very large frame
// may wait while small ones keep the budget busy.
type budget struct {
	limit int64

	mu      sync.Mutex
	used    int64
	waiters []*budgetWaiter // in arrival order
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

func newBudget(limit int64) *budget { return &budget{limit: limit} }

// acquire reserves n bytes, waiting until they fit or ctx ends. n must not
// exceed the limit (the frame limit guarantees it).
func (b *budget) acquire(ctx context.Context, n int64) error {
	if n <= 0 {
		return nil
	}
	b.mu.Lock()
	if b.used+n <= b.limit {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted while ctx ended: give it back
		b.used -= n
		b.grantLocked()
	default:
		for i, x := range b.waiters {
			if x == w {
				b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
				break
			}
		}
	}
	return ctx.Err()
}

// release returns n reserved bytes and wakes the waiters that now fit.
func (b *budget) release(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.grantLocked()
}

func (b *budget) grantLocked() {
	kept := b.waiters[:0]
	for _, w := range b.waiters {
		if b.used+w.n <= b.limit {
			b.used += w.n
			close(w.ready)
			continue
		}
		kept = append(kept, w)
	}
	clear(b.waiters[len(kept):])
	b.waiters = kept
}

// inUse returns the bytes currently reserved.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
