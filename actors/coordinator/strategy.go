package coordinator

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/actors/supervision"
)

// ErrRestartBudgetExhausted is wrapped by the error given to OnFatal when an actor failed
// more often than its restart budget allows.
var ErrRestartBudgetExhausted = errors.New("restart budget exhausted")

// ErrChildStopped is wrapped by the error given to OnFatal when a child stopped while the
// coordinator was running.
var ErrChildStopped = errors.New("child stopped")

// restartStrategy restarts a failing actor one-for-one, records and logs it (supervision),
// and reports the failure that exceeds the budget to onExhausted.
func restartStrategy(budget int, window time.Duration, onExhausted func(error)) actor.SupervisorStrategy {
	alwaysRestart := func(any) actor.Directive { return actor.RestartDirective }
	return supervision.Strategy(budgetStrategy{
		inner: actor.NewOneForOneStrategy(budget, window, alwaysRestart),
		onExhausted: func(child *actor.PID, reason any) {
			onExhausted(fmt.Errorf("%w: %s failed more than %d times within %s, last: %v",
				ErrRestartBudgetExhausted, child.Id, budget, window, reason))
		},
	}, supervision.Budget{Restarts: budget, Window: window})
}

// budgetStrategy detects the end of the restart budget: its decider always restarts, so
// the one-for-one strategy stops a child only once the budget is spent.
type budgetStrategy struct {
	inner       actor.SupervisorStrategy
	onExhausted func(child *actor.PID, reason any)
}

func (s budgetStrategy) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, message any) {
	s.inner.HandleFailure(sys, stopWatcher{Supervisor: sup, onStop: func(pid *actor.PID) { s.onExhausted(pid, reason) }}, child, rs, reason, message)
}

type stopWatcher struct {
	actor.Supervisor
	onStop func(*actor.PID)
}

func (w stopWatcher) StopChildren(pids ...*actor.PID) {
	for _, pid := range pids {
		w.onStop(pid)
	}
	w.Supervisor.StopChildren(pids...)
}
