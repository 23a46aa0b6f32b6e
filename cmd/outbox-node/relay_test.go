package main

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/outboxnode/outbox/infra/resilience"
	"github.com/outboxnode/outbox/messages"
)

// TestBreakerProbeSaysWhatPublishingDoes walks the breaker from closed to
// open (paused) to half-open (trial publishes going out) and back.
func TestBreakerProbeSaysWhatPublishingDoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const openDelay = 50 * time.Millisecond
		policy, err := resilience.New(resilience.Config{MaxAttempts: 1, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond,
			FailureThreshold: 1, OpenDelay: openDelay, SuccessThreshold: 2})
		if err != nil {
			t.Fatal(err)
		}
		probe := breakerProbe{policy, 2}
		check := func(wantStatus messages.HealthStatus, wantDetail string) {
			t.Helper()
			status, detail := probe.Check(context.Background())
			if status != wantStatus || detail != wantDetail {
				t.Errorf("probe: %v %q, want %v %q", status, detail, wantStatus, wantDetail)
			}
		}
		ctx := context.Background()
		check(messages.HealthStatus_HEALTH_STATUS_OK, "closed")
		_ = policy.Run(ctx, "test", func(context.Context) error { return errors.New("broker down") })
		check(messages.HealthStatus_HEALTH_STATUS_DEGRADED, "open: publishing paused")
		time.Sleep(openDelay + time.Millisecond) // the bubble's clock: no wall time passes
		check(messages.HealthStatus_HEALTH_STATUS_DEGRADED, "half-open: trial publishes, closes after 2 successes")
		for range 2 {
			if err := policy.Run(ctx, "test", func(context.Context) error { return nil }); err != nil {
				t.Fatal(err)
			}
		}
		check(messages.HealthStatus_HEALTH_STATUS_OK, "closed")
	})
}
