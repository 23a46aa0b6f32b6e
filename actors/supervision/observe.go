package supervision

import (
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

// Strategy wraps a supervisor strategy so that every failure it handles, and every
// escalation it decides, is recorded: protoactor publishes SupervisorEvent for resume,
// restart and stop, but nothing for a failure that is escalated.
func Strategy(s actor.SupervisorStrategy) actor.SupervisorStrategy {
	return &observedStrategy{inner: s}
}

type observedStrategy struct {
	inner actor.SupervisorStrategy
}

func (o *observedStrategy) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, message any) {
	publish(sys, child, EventFailed, reason, "")
	o.inner.HandleFailure(sys, escalationRecorder{Supervisor: sup, sys: sys, child: child}, child, rs, reason, message)
}

// escalationRecorder records an escalation before passing it on.
type escalationRecorder struct {
	actor.Supervisor
	sys   *actor.ActorSystem
	child *actor.PID
}

func (e escalationRecorder) EscalateFailure(reason, message any) {
	publish(e.sys, e.child, EventEscalated, reason, "escalate")
	e.Supervisor.EscalateFailure(reason, message)
}
