package supervision

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Observe adds the lifecycle middleware of Option to props and returns props. Every actor
// of the tree should be built with it, so that its starts and stops reach the Log.
func Observe(props *actor.Props) *actor.Props {
	return props.Configure(Option())
}

// Option is Observe as a props option: the actor publishes a Record on the EventStream
// when it has started (also after a restart) and when it has stopped.
func Option() actor.PropsOption {
	return actor.WithReceiverMiddleware(lifecycle)
}

func lifecycle(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
		switch env.Message.(type) {
		case *actor.Started:
			publish(ctx.ActorSystem(), ctx.Self(), EventStarted, nil, "")
		case *actor.Stopped:
			publish(ctx.ActorSystem(), ctx.Self(), EventStopped, nil, "")
		}
		next(ctx, env)
	}
}

// Budget is the restart budget s enforces: at most Restarts within Window.
type Budget struct {
	Restarts int
	Window   time.Duration
}

// Strategy wraps a supervisor strategy s, which enforces budget, so that every failure it
// handles, and every escalation it decides, is recorded: protoactor publishes
// SupervisorEvent for resume, restart and stop, but nothing for a failure that is
// escalated. Each restart it decides is also logged (WARN, with the child, the reason and
// the restarts within the budget), so that the node's log shows it too.
func Strategy(s actor.SupervisorStrategy, budget Budget) actor.SupervisorStrategy {
	return &observedStrategy{inner: s, budget: budget}
}

type observedStrategy struct {
	inner  actor.SupervisorStrategy
	budget Budget
}

func (o *observedStrategy) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, message any) {
	publish(sys, child, EventFailed, reason, "")
	restarts := func() {
		sys.Logger().Warn("actor restarted", slog.String("actor", child.Id), slog.String("reason", fmt.Sprint(reason)),
			slog.Int("restarts", rs.NumberOfFailures(o.budget.Window)), slog.Int("budget", o.budget.Restarts), slog.Duration("window", o.budget.Window))
	}
	o.inner.HandleFailure(sys, escalationRecorder{Supervisor: sup, sys: sys, child: child, restarting: restarts}, child, rs, reason, message)
}

// escalationRecorder records an escalation, and logs a restart, before passing it on.
type escalationRecorder struct {
	actor.Supervisor
	sys        *actor.ActorSystem
	child      *actor.PID
	restarting func()
}

func (e escalationRecorder) RestartChildren(pids ...*actor.PID) {
	e.restarting()
	e.Supervisor.RestartChildren(pids...)
}

func (e escalationRecorder) EscalateFailure(reason, message any) {
	publish(e.sys, e.child, EventEscalated, reason, "escalate")
	e.Supervisor.EscalateFailure(reason, message)
}
