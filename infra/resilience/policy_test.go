package resilience

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/outboxnode/outbox/infra/logtest"
	"github.com/outboxnode/outbox/internal/poll"
)

var (
	errTransient = errors.New("broker unavailable")
	errPermanent = errors.New("record too large")
)

type recorder struct {
	mu      sync.Mutex
	retries []string
	states  []State
}

func (r *recorder) OnRetry(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retries = append(r.retries, op)
}

func (r *recorder) OnStateChange(s State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, s)
}

func (r *recorder) snapshot() ([]string, []State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.retries), slices.Clone(r.states)
}

// fastConfig keeps the shapes of the defaults with delays short enough for tests.
func fastConfig() Config {
	return Config{
		MaxAttempts:      5,
		BackoffMin:       time.Millisecond,
		BackoffMax:       5 * time.Millisecond,
		FailureThreshold: 5,
		OpenDelay:        50 * time.Millisecond,
		SuccessThreshold: 3,
	}
}

func newPolicy(t *testing.T, cfg Config) (*Policy, *recorder) {
	t.Helper()
	rec := &recorder{}
	p, err := New(cfg, WithListener(rec), WithPermanent(func(err error) bool { return errors.Is(err, errPermanent) }))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p, rec
}

// failing returns a function that fails with err and counts its calls.
func failing(calls *atomic.Int32, err error) func(context.Context) error {
	return func(context.Context) error {
		calls.Add(1)
		return err
	}
}

func TestRetryExhaustsAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fastConfig()
		cfg.FailureThreshold = 100
		p, rec := newPolicy(t, cfg)
		var calls atomic.Int32
		err := p.Run(context.Background(), "publish", failing(&calls, errTransient))
		if !errors.Is(err, ErrRetriesExhausted) || !errors.Is(err, errTransient) {
			t.Fatalf("err = %v, want retries exhausted wrapping the last error", err)
		}
		if calls.Load() != 5 {
			t.Fatalf("calls = %d, want 5", calls.Load())
		}
		retries, _ := rec.snapshot()
		if !slices.Equal(retries, []string{"publish", "publish", "publish", "publish"}) {
			t.Fatalf("retries = %v, want 4 labelled publish", retries)
		}
	})
}

func TestRetrySucceedsAfterFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, rec := newPolicy(t, fastConfig())
		var calls atomic.Int32
		err := p.Run(context.Background(), "op", func(context.Context) error {
			if calls.Add(1) < 3 {
				return errTransient
			}
			return nil
		})
		if err != nil || calls.Load() != 3 {
			t.Fatalf("err = %v, calls = %d; want nil after 3 calls", err, calls.Load())
		}
		if retries, _ := rec.snapshot(); len(retries) != 2 {
			t.Fatalf("retries = %v, want 2", retries)
		}
	})
}

func TestPermanentErrorIsNotRetriedNorCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, _ := newPolicy(t, fastConfig())
		var calls atomic.Int32
		for range 10 {
			if err := p.Run(context.Background(), "op", failing(&calls, errPermanent)); !errors.Is(err, errPermanent) || errors.Is(err, ErrRetriesExhausted) {
				t.Fatalf("err = %v, want the permanent error as is", err)
			}
		}
		if calls.Load() != 10 {
			t.Fatalf("calls = %d, want one per Run", calls.Load())
		}
		if p.State() != StateClosed {
			t.Fatalf("state = %v, permanent errors must not open the breaker", p.State())
		}
	})
}

func TestBreakerOpensAfterConsecutiveFailuresAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fastConfig()
		cfg.MaxAttempts = 1 // one attempt per Run: each Run is one breaker result
		p, rec := newPolicy(t, cfg)
		var calls atomic.Int32
		ctx := context.Background()
		for i := range 4 {
			_ = p.Run(ctx, "op", failing(&calls, errTransient))
			if p.State() != StateClosed {
				t.Fatalf("opened after %d failures, want 5", i+1)
			}
		}
		if err := p.Run(ctx, "op", func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			_ = p.Run(ctx, "op", failing(&calls, errTransient))
		}
		if p.State() != StateClosed {
			t.Fatal("a success must reset the consecutive failure count")
		}
		_ = p.Run(ctx, "op", failing(&calls, errTransient))
		if p.State() != StateOpen {
			t.Fatalf("state = %v after 5 consecutive failures, want open", p.State())
		}
		before := calls.Load()
		if err := p.Run(ctx, "op", failing(&calls, errTransient)); !errors.Is(err, ErrOpen) || calls.Load() != before {
			t.Fatalf("open breaker: err = %v, calls %d -> %d; want ErrOpen without a call", err, before, calls.Load())
		}

		time.Sleep(cfg.OpenDelay) // the bubble's clock: no wall time passes
		if p.State() != StateHalfOpen {
			t.Fatalf("state = %v after the open delay, want half-open", p.State())
		}
		for i := range 3 {
			if err := p.Run(ctx, "op", func(context.Context) error { return nil }); err != nil {
				t.Fatalf("half-open trial %d: %v", i, err)
			}
		}
		if p.State() != StateClosed {
			t.Fatalf("state = %v after 3 half-open successes, want closed", p.State())
		}
		_, states := rec.snapshot()
		if !slices.Equal(states, []State{StateOpen, StateHalfOpen, StateClosed}) {
			t.Fatalf("state changes = %v, want open, half-open, closed", states)
		}
	})
}

func TestBreakerLogsOneLinePerStateChange(t *testing.T) {
	cfg := fastConfig()
	cfg.MaxAttempts = 1
	logs, log := logtest.New()
	p, err := New(cfg, WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var calls atomic.Int32
	for range 4 {
		_ = p.Run(ctx, "op", failing(&calls, errTransient))
	}
	last := errors.New("connection refused")
	_ = p.Run(ctx, "op", failing(&calls, last))
	for range 3 { // rejected while open: no more lines
		_ = p.Run(ctx, "op", failing(&calls, errTransient))
	}
	poll.Eventually(t, 2*time.Second, poll.True("half-open", func() bool { return p.State() == StateHalfOpen }))
	for range 3 {
		if err := p.Run(ctx, "op", func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"breaker open: publishing paused", "breaker half-open: trial publishes", "breaker closed: publishing resumed"}
	if got := logs.Messages(slog.LevelDebug); !slices.Equal(got, want) {
		t.Fatalf("logged %q, want %q", got, want)
	}
	open := logs.Lines()[0]
	if open.Level != slog.LevelWarn || open.Attrs["cause"].Any() != last || open.Attrs["delay"].Duration() != cfg.OpenDelay || open.Attrs["retry_at"].Time().IsZero() {
		t.Errorf("open line %+v: want WARN with the failure that opened it and when it tries again", open)
	}
}

func TestHalfOpenFailureReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fastConfig()
		cfg.MaxAttempts = 1
		p, _ := newPolicy(t, cfg)
		var calls atomic.Int32
		for range 5 {
			_ = p.Run(context.Background(), "op", failing(&calls, errTransient))
		}
		time.Sleep(cfg.OpenDelay)
		if p.State() != StateHalfOpen {
			t.Fatalf("state = %v after the open delay, want half-open", p.State())
		}
		_ = p.Run(context.Background(), "op", failing(&calls, errTransient))
		if p.State() != StateOpen {
			t.Fatalf("state = %v after a half-open failure, want open", p.State())
		}
	})
}

// With a one-hour backoff, a retry that slept would end on the context
// deadline: getting ErrOpen proves the open breaker aborts without sleeping.
func TestOpenBreakerAbortsRetriesWithoutSleeping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fastConfig()
		cfg.FailureThreshold = 1
		cfg.BackoffMin, cfg.BackoffMax = time.Hour, time.Hour
		cfg.OpenDelay = time.Hour
		p, rec := newPolicy(t, cfg)
		var calls atomic.Int32

		openCtx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := p.Run(openCtx, "op", failing(&calls, errTransient)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("first run: err = %v, want the deadline during the backoff", err)
		}
		if p.State() != StateOpen {
			t.Fatalf("state = %v, want open", p.State())
		}

		ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel2()
		start := time.Now()
		err := p.Run(ctx, "op", failing(&calls, errTransient))
		if !errors.Is(err, ErrOpen) || time.Since(start) != 0 {
			t.Fatalf("err = %v after %v, want ErrOpen at once", err, time.Since(start))
		}
		if calls.Load() != 1 {
			t.Fatalf("calls = %d, want only the first run's call", calls.Load())
		}
		if retries, _ := rec.snapshot(); len(retries) != 0 {
			t.Fatalf("retries = %v, want none", retries)
		}
	})
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative attempts", Config{MaxAttempts: -1}},
		{"decreasing backoff", Config{BackoffMin: time.Second, BackoffMax: time.Millisecond}},
		{"jitter too large", Config{JitterFactor: 1.5}},
		{"negative delay", Config{OpenDelay: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
	if _, err := New(Config{JitterFactor: -1}); err != nil {
		t.Fatalf("a negative JitterFactor disables jitter, got %v", err)
	}
}
