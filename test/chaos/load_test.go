package chaos

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// commandTimeout bounds the wait for one reply. A command without a reply
// by then has an unknown outcome (it may have committed).
const commandTimeout = 3 * time.Second

// ack is one acknowledged command: the node answered CommandAccepted, so
// its event is committed and must reach Kafka.
type ack struct {
	orderID, eventID string
	version          int32
}

// counts are the command outcomes of one phase.
type counts struct {
	acknowledged, rejected, unknown int
}

// ledger records the outcome of every command the clients sent.
type ledger struct {
	acked    atomic.Int64 // acknowledged so far, for the fault triggers
	failures atomic.Int64 // rejected or unknown so far
	phase    atomic.Int32 // phase the next outcomes count in

	mu       sync.Mutex
	acks     []ack
	perPhase map[int32]*counts
	// lastAcked is the last acknowledged version of each order whose
	// client gave up on it after a STORE_UNAVAILABLE rejection, which
	// promises that nothing was committed: a later version in Kafka
	// breaks that promise.
	lastAcked map[string]int32
}

func newLedger() *ledger {
	return &ledger{perPhase: map[int32]*counts{}, lastAcked: map[string]int32{}}
}

func (l *ledger) countsLocked() *counts {
	p := l.phase.Load()
	c := l.perPhase[p]
	if c == nil {
		c = &counts{}
		l.perPhase[p] = c
	}
	return c
}

func (l *ledger) accepted(a *messages.CommandAccepted) {
	l.mu.Lock()
	l.acks = append(l.acks, ack{a.GetOrderId(), a.GetEventId(), a.GetVersion()})
	l.countsLocked().acknowledged++
	l.mu.Unlock()
	l.acked.Add(1)
}

// failed records a command without acceptance. A rejection is a known
// outcome (nothing committed, by contract), anything else is unknown.
func (l *ledger) failed(err error, orderID string, lastVersion int32) {
	l.failures.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	var rej *harness.RejectedError
	if !errors.As(err, &rej) {
		l.countsLocked().unknown++
		return
	}
	l.countsLocked().rejected++
	if orderID != "" && rej.Code == messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE {
		l.lastAcked[orderID] = lastVersion
	}
}

func (l *ledger) snapshot() ([]ack, map[int32]counts, map[string]int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	per := make(map[int32]counts, len(l.perPhase))
	for p, c := range l.perPhase {
		per[p] = *c
	}
	last := make(map[string]int32, len(l.lastAcked))
	for k, v := range l.lastAcked {
		last[k] = v
	}
	return append([]ack(nil), l.acks...), per, last
}

// target is the remote address of the running node; "" while none runs.
type target struct{ addr atomic.Pointer[string] }

func (tg *target) set(addr string) { tg.addr.Store(&addr) }

func (tg *target) get() string {
	if p := tg.addr.Load(); p != nil {
		return *p
	}
	return ""
}

// load runs clients concurrent clients until stop is closed. Each creates
// an order, updates it one to four times and sometimes cancels it, then
// starts the next; it gives up on an order at its first command without
// acceptance, so that the versions it saw acknowledged are exactly 1..n.
func load(seed uint64, clients int, tg *target, l *ledger, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for c := range clients {
		rng := rand.New(rand.NewPCG(seed, uint64(c)))
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if !order(rng, fmt.Sprintf("chaos-%d-%d", c, n), tg, l) {
					// Pacing, not waiting for a condition: a client whose
					// node is down or restarting does not spin on it.
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		})
	}
	return &wg
}

// order runs one order's commands and reports whether all were accepted.
func order(rng *rand.Rand, customer string, tg *target, l *ledger) bool {
	addr := tg.get()
	if addr == "" {
		return false
	}
	a, err := harness.Command(addr, &messages.CreateOrder{CustomerId: customer, Amount: "10.00", Currency: "EUR",
		Items: []*messages.Item{{Sku: "SKU-1", Quantity: 1}}}, commandTimeout)
	if err != nil {
		l.failed(err, "", 0)
		return false
	}
	l.accepted(a)
	id, version := a.GetOrderId(), a.GetVersion()
	cmds := make([]proto.Message, 0, 5)
	for i := range 1 + rng.IntN(4) {
		amount := fmt.Sprintf("%d.00", 11+i)
		cmds = append(cmds, &messages.UpdateOrder{OrderId: id, Amount: &amount})
	}
	if rng.IntN(2) == 0 {
		cmds = append(cmds, &messages.CancelOrder{OrderId: id, Reason: "chaos"})
	}
	for _, msg := range cmds {
		// A restart may have moved the node: follow it.
		if addr = tg.get(); addr == "" {
			return false
		}
		r, err := harness.Command(addr, msg, commandTimeout)
		if err != nil {
			l.failed(err, id, version)
			return false
		}
		l.accepted(r)
		version = r.GetVersion()
	}
	return true
}
