package main

import (
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/messages"
)

// commandCounter feeds outbox_commands_total{type,result} without touching
// the actors: a receiver middleware on the coordinator notes the type of
// each command by its requester, and a sender middleware on the actors that
// answer (coordinator, orders router, order actors) counts the reply sent
// to that requester. Requesters are unique futures, so the pair matches.
type commandCounter struct {
	metrics *metrics.Metrics

	mu      sync.Mutex
	pending map[pidKey]pendingCommand // requester -> command
	swept   time.Time                 // last sweep of the table
}

// pidKey identifies a requester; PID.String would do, but it formats the
// PID through prototext, a measurable share of the node's CPU per command.
type pidKey struct{ address, id string }

func keyOf(pid *actor.PID) pidKey { return pidKey{pid.GetAddress(), pid.GetId()} }

type pendingCommand struct {
	typ string
	at  time.Time
}

// pendingLimit and pendingMaxAge bound the table: a command whose reply is
// lost (its actor panicked on it) is forgotten after a while. Past the
// limit the table is swept at most every sweepEvery, so that a busy node
// with many commands in flight does not scan it on every command.
const (
	pendingLimit  = 4096
	pendingMaxAge = time.Minute
	sweepEvery    = time.Second
)

func newCommandCounter(m *metrics.Metrics) *commandCounter {
	return &commandCounter{metrics: m, pending: map[pidKey]pendingCommand{}}
}

func commandType(msg any) string {
	switch msg.(type) {
	case *messages.CreateOrder:
		return "create"
	case *messages.UpdateOrder:
		return "update"
	case *messages.CancelOrder:
		return "cancel"
	case *messages.GetOrder:
		return "get"
	}
	return ""
}

func replyResult(msg any) string {
	switch m := msg.(type) {
	case *messages.CommandAccepted, *messages.OrderView:
		return "accepted"
	case *messages.CommandRejected:
		return strings.ToLower(strings.TrimPrefix(m.GetCode().String(), "REJECT_CODE_"))
	}
	return ""
}

// requests is the coordinator's receiver middleware.
func (c *commandCounter) requests() actor.PropsOption {
	return actor.WithReceiverMiddleware(func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(ctx actor.ReceiverContext, env *actor.MessageEnvelope) {
			if typ := commandType(env.Message); typ != "" && env.Sender != nil {
				c.note(keyOf(env.Sender), typ)
			}
			next(ctx, env)
		}
	})
}

// replies is the sender middleware of every actor that answers commands.
func (c *commandCounter) replies() actor.PropsOption {
	return actor.WithSenderMiddleware(func(next actor.SenderFunc) actor.SenderFunc {
		return func(ctx actor.SenderContext, target *actor.PID, env *actor.MessageEnvelope) {
			if result := replyResult(env.Message); result != "" && target != nil {
				c.count(keyOf(target), result)
			}
			next(ctx, target, env)
		}
	})
}

func (c *commandCounter) note(requester pidKey, typ string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) >= pendingLimit && now.Sub(c.swept) >= sweepEvery {
		c.swept = now
		for k, p := range c.pending {
			if now.Sub(p.at) > pendingMaxAge {
				delete(c.pending, k)
			}
		}
	}
	c.pending[requester] = pendingCommand{typ: typ, at: now}
}

func (c *commandCounter) count(requester pidKey, result string) {
	c.mu.Lock()
	p, ok := c.pending[requester]
	delete(c.pending, requester)
	c.mu.Unlock()
	if ok {
		c.metrics.CommandHandled(p.typ, result)
	}
}
