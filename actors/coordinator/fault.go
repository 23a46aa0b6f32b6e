package coordinator

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/messages"
)

// fault makes the actor that receives it panic. It is a plain Go value, so it can only be
// sent from inside the node, by the coordinator, when fault injection is enabled: a remote
// peer can send InjectFault but never a fault.
type fault struct{ actor string }

func (f fault) Error() string { return "injected fault in " + f.actor }

func panicOnFault(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
		if f, ok := env.Message.(fault); ok {
			panic(f)
		}
		next(ctx, env)
	}
}

// injectFault confirms first, because the panicking actor drops the message it fails on.
func (c *coordinator) injectFault(ctx actor.Context, m *messages.InjectFault) {
	if !c.cfg.EnableFaultInjection {
		c.reject(ctx, messages.RejectCode_REJECT_CODE_PERMISSION_DENIED, "fault injection is disabled on this node")
		return
	}
	target := m.GetActor()
	if target == Name {
		confirm(ctx, target)
		panic(fault{actor: target})
	}
	pid, ok := c.pids[target]
	if !ok {
		c.reject(ctx, messages.RejectCode_REJECT_CODE_NOT_FOUND, "no actor %s under %s", messages.QuoteInput(target), Name)
		return
	}
	ctx.Send(pid, fault{actor: target})
	confirm(ctx, target)
}

func confirm(ctx actor.Context, target string) {
	if ctx.Sender() != nil {
		ctx.Respond(&messages.FaultInjected{Actor: target})
	}
}
