// Package health answers HealthQuery (from `outboxctl health` and the /health endpoint) by
// running the node's component probes (store, broker, breaker, CDC lag) and folding them
// into one HealthReport whose status is the worst component status, except that a component
// wrapped with Optional being down only degrades the node.
package health

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/messages"
)

// Probe checks one component. Check must honour ctx; it may be called concurrently.
type Probe interface {
	Name() string
	Check(ctx context.Context) (status messages.HealthStatus, detail string)
}

// Optional wraps p for a component the node does its main job without (the broker: commands
// are still accepted and their events wait in the outbox): its own status is reported as is,
// but when it is down the status is degraded, not down.
func Optional(p Probe) Probe { return optional{p} }

type optional struct{ Probe }

// Config configures the health actor.
type Config struct {
	// Timeout bounds one round of probes; a probe that has not answered by then is down.
	Timeout time.Duration
}

// DefaultTimeout is the default of Config.Timeout.
const DefaultTimeout = 2 * time.Second

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
}

// Validate rejects a negative timeout.
func (c Config) Validate() error {
	if c.Timeout < 0 {
		return fmt.Errorf("health config: timeout %s < 0", c.Timeout)
	}
	return nil
}

// Props validates cfg (after SetDefaults) and returns the props of the health actor over probes, reported in the given order.
func Props(cfg Config, probes ...Probe) (*actor.Props, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &healthActor{cfg: cfg, probes: probes}
	}), nil
}

type healthActor struct {
	cfg    Config
	probes []Probe
}

func (h *healthActor) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*messages.HealthQuery); !ok {
		return
	}
	sender := ctx.Sender()
	if sender == nil {
		return
	}
	// Probes do I/O: run them off the actor so that queries do not queue behind a slow one.
	root := ctx.ActorSystem().Root
	go func() {
		root.Send(sender, Check(context.Background(), h.cfg.Timeout, h.probes))
	}()
}

// Check runs every probe concurrently for at most timeout and aggregates the results.
func Check(ctx context.Context, timeout time.Duration, probes []Probe) *messages.HealthReport {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		i int
		c *messages.Component
	}
	results := make(chan result, len(probes))
	for i, p := range probes {
		go func() { results <- result{i, run(ctx, p)} }()
	}
	components := make([]*messages.Component, len(probes))
collect:
	for range probes {
		select {
		case r := <-results:
			components[r.i] = r.c
		case <-ctx.Done():
			break collect
		}
	}
	report := &messages.HealthReport{Status: messages.HealthStatus_HEALTH_STATUS_OK, CheckedAt: timestamppb.Now()}
	for i, c := range components {
		if c == nil {
			c = &messages.Component{Name: probes[i].Name(), Status: messages.HealthStatus_HEALTH_STATUS_DOWN, Detail: fmt.Sprintf("no answer within %s", timeout)}
		}
		report.Components = append(report.Components, c)
		status := c.GetStatus()
		if _, ok := probes[i].(optional); ok {
			status = min(status, messages.HealthStatus_HEALTH_STATUS_DEGRADED)
		}
		report.Status = worst(report.Status, status)
	}
	return report
}

// run calls one probe, turning a panic or a missing status into down.
func run(ctx context.Context, p Probe) (c *messages.Component) {
	c = &messages.Component{Name: p.Name()}
	defer func() {
		if r := recover(); r != nil {
			c.Status, c.Detail = messages.HealthStatus_HEALTH_STATUS_DOWN, fmt.Sprintf("probe panicked: %v", r)
		}
	}()
	c.Status, c.Detail = p.Check(ctx)
	if c.Status == messages.HealthStatus_HEALTH_STATUS_UNSPECIFIED {
		c.Status, c.Detail = messages.HealthStatus_HEALTH_STATUS_DOWN, "probe returned no status: "+c.Detail
	}
	return c
}

// worst orders ok < degraded < down, which is the enum order.
func worst(a, b messages.HealthStatus) messages.HealthStatus {
	return max(a, b)
}
