// Package poll waits for a condition by polling it under a deadline: the one
// wait-until loop of the tests and the test harness, which observe the data
// path from outside (rows, records, metrics, logs) and so can only ask again.
package poll

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// The interval between two calls of a condition starts at minInterval, so a
// condition that holds almost at once costs little, and doubles up to
// maxInterval, so a slow one does not keep a loaded machine busy.
const (
	minInterval = time.Millisecond
	maxInterval = 50 * time.Millisecond
)

// Until calls cond, at once and then at growing intervals, until it returns
// nil. When timeout passes or ctx ends first, it returns an error wrapping
// cond's last error.
func Until(ctx context.Context, timeout time.Duration, cond func() error) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	interval := minInterval
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("condition not met before %w: %w", context.Cause(ctx), err)
		case <-timer.C:
			return fmt.Errorf("condition not met within %s: %w", timeout, err)
		case <-time.After(interval):
		}
		interval = min(2*interval, maxInterval)
	}
}

// Eventually is Until for a test: it fails tb when cond does not return nil
// within timeout. Call it from the test's goroutine; it works in a Cleanup
// too (it does not use tb.Context, which has ended by then).
func Eventually(tb testing.TB, timeout time.Duration, cond func() error) {
	tb.Helper()
	if err := Until(context.Background(), timeout, cond); err != nil {
		tb.Fatal(err)
	}
}

// True turns a yes/no condition into one for Until and Eventually; what
// names the awaited state in the error.
func True(what string, cond func() bool) func() error {
	return func() error {
		if cond() {
			return nil
		}
		return errors.New("waiting for " + what)
	}
}
