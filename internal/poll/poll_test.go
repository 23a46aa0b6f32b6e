package poll_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/outboxnode/outbox/internal/poll"
)

func TestUntilReturnsOnceConditionHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		err := poll.Until(t.Context(), time.Minute, func() error {
			calls++
			if time.Since(start) < time.Second {
				return errors.New("not yet")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Until = %v", err)
		}
		if waited := time.Since(start); waited > time.Second+50*time.Millisecond {
			t.Fatalf("returned %v after the condition held at 1s: the interval exceeds 50ms", waited)
		}
		if calls > 40 {
			t.Fatalf("%d calls in one second: the interval does not grow", calls)
		}
	})
}

func TestUntilTimeoutWrapsLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		err := poll.Until(t.Context(), 3*time.Second, func() error {
			calls++
			return fmt.Errorf("attempt %d", calls)
		})
		if err == nil || !strings.Contains(err.Error(), "within 3s") || !strings.HasSuffix(err.Error(), fmt.Sprintf("attempt %d", calls)) {
			t.Fatalf("Until = %v, want the timeout and the last attempt (%d)", err, calls)
		}
	})
}

func TestUntilStopsWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cause := errors.New("shutting down")
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(time.Second, func() { cancel(cause) })
		start := time.Now()
		err := poll.Until(ctx, time.Hour, poll.True("never", func() bool { return false }))
		if !errors.Is(err, cause) || !strings.Contains(err.Error(), "waiting for never") {
			t.Fatalf("Until = %v, want the context's cause and the condition's error", err)
		}
		if waited := time.Since(start); waited >= time.Hour {
			t.Fatalf("returned after %v: the context's end was ignored", waited)
		}
	})
}
