// Package resilience is the relay's failure policy around one publish call:
// publisher actor -> resilience.Policy.Run(publish) -> infra/kafka. It is a
// failsafe-go retry policy wrapped around a circuit breaker (retry outer, so
// every attempt is one breaker result), with metric hooks through Listener.
//
// Error classification is injected (WithPermanent) so this package knows
// nothing about Kafka: permanent errors are neither retried nor counted as
// breaker failures, since they say nothing about the broker's health.
package resilience

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
)

// Sentinel errors of Run.
var (
	// ErrOpen is returned, unwrapped, when the breaker rejects a call.
	ErrOpen = circuitbreaker.ErrOpen
	// ErrRetriesExhausted is wrapped, together with the last attempt's
	// error, when every attempt failed.
	ErrRetriesExhausted = retrypolicy.ErrExceeded
)

// Listener receives policy events for metrics. Calls are synchronous on the
// executing goroutine, so implementations must not block.
type Listener interface {
	// OnRetry is called before each retry of the named operation.
	OnRetry(operation string)
	// OnStateChange is called when the breaker changes state.
	OnStateChange(state State)
}

// Option configures optional collaborators of New.
type Option func(*Policy)

// WithPermanent sets the predicate for errors that must not be retried and
// do not count against the breaker (e.g. a record too large for the broker).
func WithPermanent(isPermanent func(error) bool) Option {
	return func(p *Policy) { p.isPermanent = isPermanent }
}

// WithListener sets the metrics listener.
func WithListener(l Listener) Option {
	return func(p *Policy) { p.listener = l }
}

// WithLogger sets where the breaker's state changes are logged: open
// (WARN, with the failure that opened it and when it tries again),
// half-open and closed (INFO). Without it they are not logged.
func WithLogger(l *slog.Logger) Option {
	return func(p *Policy) { p.log = l }
}

// Policy runs functions under retry + circuit breaker. It is safe for
// concurrent use; the breaker state is shared by all calls.
type Policy struct {
	isPermanent func(error) bool
	listener    Listener
	log         *slog.Logger
	retry       retrypolicy.RetryPolicy[any]
	breaker     circuitbreaker.CircuitBreaker[any]
	openDelay   time.Duration

	mu          sync.Mutex
	lastFailure error // the latest failure the breaker counted: the cause of an open
}

type operationKey struct{}

// New validates cfg (after SetDefaults) and builds the policy.
func New(cfg Config, opts ...Option) (*Policy, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{isPermanent: func(error) bool { return false }, listener: nopListener{}, log: slog.New(slog.DiscardHandler), openDelay: cfg.OpenDelay}
	for _, o := range opts {
		o(p)
	}
	rb := retrypolicy.NewBuilder[any]().
		WithMaxAttempts(cfg.MaxAttempts).
		WithBackoff(cfg.BackoffMin, cfg.BackoffMax).
		// Retrying a rejected call only sleeps through the backoff, and a
		// permanent error will fail again: give up at once on both.
		AbortIf(func(_ any, err error) bool {
			return errors.Is(err, ErrOpen) || p.isPermanent(err) || isContextErr(err)
		}).
		OnRetry(func(e failsafe.ExecutionEvent[any]) {
			op, _ := e.Context().Value(operationKey{}).(string)
			p.listener.OnRetry(op)
		})
	if cfg.JitterFactor > 0 {
		rb = rb.WithJitterFactor(cfg.JitterFactor)
	}
	p.retry = rb.Build()
	p.breaker = circuitbreaker.NewBuilder[any]().
		WithFailureThreshold(cfg.FailureThreshold).
		WithDelay(cfg.OpenDelay).
		WithSuccessThreshold(cfg.SuccessThreshold).
		HandleIf(func(_ any, err error) bool {
			counted := err != nil && !p.isPermanent(err) && !isContextErr(err)
			if counted {
				p.mu.Lock()
				p.lastFailure = err
				p.mu.Unlock()
			}
			return counted
		}).
		OnStateChanged(func(e circuitbreaker.StateChangedEvent) {
			s := stateOf(e.NewState)
			p.listener.OnStateChange(s)
			p.logChange(s)
		}).
		Build()
	return p, nil
}

// Run calls fn until it succeeds, fails permanently, the attempts are
// exhausted, the breaker rejects it or ctx ends. operation labels retries
// for the Listener. After exhausted attempts the error matches both
// ErrRetriesExhausted and the last attempt's error with errors.Is/As; a
// rejection returns ErrOpen; a permanent error is returned as fn gave it.
func (p *Policy) Run(ctx context.Context, operation string, fn func(context.Context) error) error {
	ctx = context.WithValue(ctx, operationKey{}, operation)
	err := failsafe.With[any](p.retry, p.breaker).WithContext(ctx).
		RunWithExecution(func(exec failsafe.Execution[any]) error { return fn(exec.Context()) })
	if err == nil {
		return nil
	}
	if exceeded := retrypolicy.AsExceededError(err); exceeded != nil {
		return fmt.Errorf("%s: %w: %w", operation, ErrRetriesExhausted, exceeded.LastError)
	}
	return err
}

// State reports the breaker state for a gauge. failsafe-go moves from open
// to half-open lazily, on the next call after the delay; State reports
// half-open as soon as the delay has elapsed, which is what a caller would
// experience.
func (p *Policy) State() State {
	s := stateOf(p.breaker.State())
	if s == StateOpen && p.breaker.RemainingDelay() <= 0 {
		return StateHalfOpen
	}
	return s
}

// logChange logs one line per state change. failsafe-go calls its
// listener once per change, so a breaker that stays open logs nothing more.
func (p *Policy) logChange(s State) {
	switch s {
	case StateOpen:
		p.mu.Lock()
		cause := p.lastFailure
		p.mu.Unlock()
		p.log.Warn("breaker open: publishing paused", slog.Any("cause", cause),
			slog.Time("retry_at", time.Now().Add(p.openDelay).Round(time.Millisecond)), slog.Duration("delay", p.openDelay))
	case StateHalfOpen:
		p.log.Info("breaker half-open: trial publishes")
	case StateClosed:
		p.log.Info("breaker closed: publishing resumed")
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

type nopListener struct{}

func (nopListener) OnRetry(string)      {}
func (nopListener) OnStateChange(State) {}
