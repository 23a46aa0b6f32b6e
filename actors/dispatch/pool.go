// Package dispatch runs actor mailboxes on goroutines that are kept and
// reused. Protoactor's default dispatcher starts a goroutine for every run of
// a mailbox; an order actor's run goes deep (the store's driver), so each
// command grew a fresh stack from its smallest size, copying it several
// times. A kept goroutine keeps its grown stack between commands.
package dispatch

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Pool is an actor.Dispatcher over reused goroutines. A run is handed to a
// goroutine waiting for work, or to a new one when none waits, so a run
// never queues behind another (an actor's run may block on I/O). A
// goroutine that found no work for its idle time exits. It is safe for
// concurrent use.
type Pool struct {
	throughput int
	idle       time.Duration
	work       chan func()
}

var _ actor.Dispatcher = (*Pool)(nil)

// NewPool returns a Pool whose mailboxes process up to throughput messages
// before yielding the processor, and whose goroutines exit after idle
// without work.
func NewPool(throughput int, idle time.Duration) *Pool {
	return &Pool{throughput: throughput, idle: idle, work: make(chan func())}
}

// Schedule implements actor.Dispatcher.
func (p *Pool) Schedule(fn func()) {
	select {
	case p.work <- fn:
	default:
		go p.run(fn)
	}
}

// Throughput implements actor.Dispatcher.
func (p *Pool) Throughput() int { return p.throughput }

// run runs fn, then the work handed to it, until idle passes without any.
func (p *Pool) run(fn func()) {
	idle := time.NewTimer(p.idle)
	defer idle.Stop()
	for {
		fn()
		idle.Reset(p.idle)
		select {
		case fn = <-p.work:
		case <-idle.C:
			return
		}
	}
}
