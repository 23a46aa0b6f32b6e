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
// Frames above smallFrameMax may use all but a reserve, which only small
// frames can take: clients sending (or trickling, up to FrameTimeout) large
// frames can then fill the large share but never stall ordinary statements.
// Waiters are served by size, not strictly in arrival order: whenever bytes
// are released, every waiting reservation that now fits is granted, so a
// statement never queues behind a client that asked for hundreds of
// megabytes; the price is that a very large frame may wait while smaller
// ones keep the budget busy.
type budget struct {
	limit   int64
	reserve int64 // of limit, for frames of at most smallFrameMax

	mu      sync.Mutex
	used    int64
	waiters []*budgetWaiter // in arrival order
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

// smallFrameMax is the largest frame that may use the reserve; statements
// are far smaller.
const smallFrameMax = 64 << 10

// budgetReserve is the share of limit kept for small frames: a quarter, at
// most 16 MiB (256 frames of smallFrameMax).
func budgetReserve(limit int64) int64 { return min(limit/4, 16<<20) }

func newBudget(limit int64) *budget { return &budget{limit: limit, reserve: budgetReserve(limit)} }

// largest is the largest reservation that can ever be granted.
func (b *budget) largest() int64 { return b.limit - b.reserve }

func (b *budget) fitsLocked(n int64) bool {
	if n <= smallFrameMax {
		return b.used+n <= b.limit
	}
	return b.used+n <= b.limit-b.reserve
}

// acquire reserves n bytes, waiting until they fit or ctx ends. n must not
// exceed largest (the frame limit guarantees it).
func (b *budget) acquire(ctx context.Context, n int64) error {
	if n <= 0 {
		return nil
	}
	b.mu.Lock()
	if b.fitsLocked(n) {
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
		if b.fitsLocked(w.n) {
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
