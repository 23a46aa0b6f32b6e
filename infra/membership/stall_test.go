package membership

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/outboxnode/outbox/internal/poll"
)

// fakeClock moves only when told to, and counts the looks at it.
type fakeClock struct {
	mu    sync.Mutex
	at    time.Time
	looks int
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.looks++
	return c.at
}

// advance moves the clock by d and waits until the watch looked at it.
func (c *fakeClock) advance(t *testing.T, d time.Duration) {
	t.Helper()
	c.mu.Lock()
	c.at = c.at.Add(d)
	seen := c.looks
	c.mu.Unlock()
	poll.Eventually(t, 10*time.Second, poll.True("the watch looks at the clock", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.looks > seen
	}))
}

func TestWatchStallsFindsAStallPastDeadAfterWithPeers(t *testing.T) {
	clock := &fakeClock{at: time.Unix(0, 0)}
	done := make(chan struct{})
	found := make(chan error, 1)
	go func() {
		found <- watchStalls(done, time.Millisecond, 6*time.Second, clock.now, func() bool { return true })
	}()
	clock.advance(t, 5*time.Second) // a stall shorter than dead-after: peers still have it
	clock.advance(t, 2*time.Second) // each look within dead-after of the one before
	select {
	case err := <-found:
		t.Fatalf("stalls within dead-after reported: %v", err)
	default:
	}
	clock.advance(t, 7*time.Second)
	select {
	case err := <-found:
		if !errors.Is(err, ErrDropped) {
			t.Fatalf("got %v, want ErrDropped", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a 7s stall past a 6s dead-after was not reported")
	}
	close(done)
}

func TestWatchStallsIgnoresAStallWithoutPeers(t *testing.T) {
	clock := &fakeClock{at: time.Unix(0, 0)}
	done := make(chan struct{})
	found := make(chan error, 1)
	go func() {
		found <- watchStalls(done, time.Millisecond, time.Second, clock.now, func() bool { return false })
	}()
	clock.advance(t, time.Hour) // alone, nobody can drop it
	clock.advance(t, 0)         // a look after the stall's
	select {
	case err := <-found:
		t.Fatalf("a member without peers reported %v", err)
	default:
	}
	close(done)
	if err := <-found; err != nil {
		t.Fatalf("stopped watch returned %v", err)
	}
}
