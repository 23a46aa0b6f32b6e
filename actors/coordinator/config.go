package coordinator

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/actors/admission"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Config configures the coordinator; OnFatal is required.
type Config struct {
	// RestartBudget is how many restarts one child (and the coordinator itself) may have
	// within RestartWindow; one more failure stops the node. 0 means no restarts, so
	// SetDefaults leaves it alone: start from DefaultRestartBudget.
	RestartBudget int
	RestartWindow time.Duration
	// EnableFaultInjection honours InjectFault (tests only).
	EnableFaultInjection bool
	// Gate is the node's admission gate: once closed, every request is refused with
	// REJECT_CODE_SHUTTING_DOWN. Nil never closes.
	Gate *admission.Gate
	// OnFatal is called once when the tree cannot continue: a restart budget is spent or a
	// child stopped on its own. It runs on a supervisor's goroutine and must return quickly,
	// e.g. by cancelling the node's context so that main exits non-zero.
	OnFatal func(error)
}

// Defaults of Config.
const (
	DefaultRestartBudget = 10
	DefaultRestartWindow = time.Minute
)

// SetDefaults fills a zero RestartWindow; a zero RestartBudget means no restarts.
func (c *Config) SetDefaults() {
	if c.RestartWindow == 0 {
		c.RestartWindow = DefaultRestartWindow
	}
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	if c.RestartBudget < 0 {
		errs = append(errs, fmt.Errorf("restart budget %d < 0", c.RestartBudget))
	}
	if c.RestartWindow <= 0 {
		errs = append(errs, fmt.Errorf("restart window %s must be positive", c.RestartWindow))
	}
	if c.OnFatal == nil {
		errs = append(errs, errors.New("OnFatal is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("coordinator config: %w", err)
	}
	return nil
}

// Child is one actor the coordinator spawns and supervises.
type Child struct {
	// Name is the actor name under the coordinator, e.g. "orders" (PID coordinator/orders).
	Name  string
	Props *actor.Props
	// Routes are the request types forwarded to this child, given as values of them,
	// e.g. []proto.Message{&messages.HealthQuery{}}.
	Routes []proto.Message
}

// routeTable maps request types to the child names that handle them.
func routeTable(children []Child) (map[protoreflect.FullName]string, error) {
	routes := map[protoreflect.FullName]string{}
	names := map[string]bool{}
	var errs []error
	for i, c := range children {
		switch {
		case c.Name == "" || strings.Contains(c.Name, "/"):
			errs = append(errs, fmt.Errorf("child %d: name %q must be non-empty without '/'", i, c.Name))
		case names[c.Name]:
			errs = append(errs, fmt.Errorf("child %q listed twice", c.Name))
		case c.Props == nil:
			errs = append(errs, fmt.Errorf("child %q: nil props", c.Name))
		}
		names[c.Name] = true
		for _, m := range c.Routes {
			name := proto.MessageName(m)
			if other, taken := routes[name]; taken {
				errs = append(errs, fmt.Errorf("%s routed to both %q and %q", name, other, c.Name))
				continue
			}
			routes[name] = c.Name
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("coordinator children: %w", err)
	}
	return routes, nil
}
