package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// stopsEnv sets how many stops TestStopsUnderLoad makes (default 5; the
// chaos run uses 30).
const stopsEnv = "OUTBOX_E2E_STOPS"

// loadClients is how many goroutines send commands during each stop.
const loadClients = 32

// stopBound is the --shutdown-timeout of the nodes under load.
const stopBound = 30 * time.Second

// reply is one request of the load and what became of it.
type reply struct {
	sent     time.Time
	accepted *messages.CommandAccepted
	rejected *messages.CommandRejected
	err      error
}

// TestStopsUnderLoad stops a node with SIGTERM while 32 clients send
// CreateOrder and UpdateOrder over Proto.Actor remote, several times
// (OUTBOX_E2E_STOPS, default 5). Each stop must end with exit 0 within
// --shutdown-timeout; after the process exited, every accepted command is
// read back from the store (gocqlx: the store is a devstack that outlives
// the node), and no command is accepted whose request was sent after the
// node logged "signal received" (the node closes its admission gate before
// it logs that line). Refusals must be SHUTTING_DOWN.
func TestStopsUnderLoad(t *testing.T) {
	stops := 5
	if v := os.Getenv(stopsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", stopsEnv, v)
		}
		stops = n
	}
	bins := harness.Build(t)
	cql, kafka := harness.StartDevstack(t, bins)
	var total stopFigures
	for i := range stops {
		f := stopUnderLoad(t, bins, cql, kafka)
		t.Logf("stop %d/%d: exit %d after %s; %d accepted (%d sent after SIGTERM was sent, %d after the node logged it), %d SHUTTING_DOWN, %d requests failed (node gone)",
			i+1, stops, f.exit, f.took.Round(time.Millisecond), f.accepted, f.acceptedAfterSignal, f.lateAccepts, f.shuttingDown, f.failed)
		total.add(f)
		if t.Failed() {
			break
		}
	}
	t.Logf("%d stops: %d hung or non-zero, longest stop %s; %d accepted, all in the store; %d accepted after the log line; %d SHUTTING_DOWN",
		stops, total.bad, total.longest.Round(time.Millisecond), total.accepted, total.lateAccepts, total.shuttingDown)
}

type stopFigures struct {
	exit                int
	took, longest       time.Duration
	bad                 int
	accepted            int
	acceptedAfterSignal int
	lateAccepts         int
	shuttingDown        int
	failed              int
}

func (s *stopFigures) add(f stopFigures) {
	if f.exit != 0 || f.took > stopBound {
		s.bad++
	}
	s.longest = max(s.longest, f.took)
	s.accepted += f.accepted
	s.lateAccepts += f.lateAccepts
	s.shuttingDown += f.shuttingDown
}

// signalLine is the node's log line written right after it closed its
// admission gate; slog's text handler stamps it in milliseconds.
var signalLine = regexp.MustCompile(`time=(\S+) level=info msg="signal received, shutting down"`)

func stopUnderLoad(t *testing.T, bins harness.Binaries, cql, kafka string) stopFigures {
	t.Helper()
	node := harness.StartNode(t, bins, "--scylla-hosts", cql, "--kafka-brokers", kafka, "--migrate", "--consistency", "ONE",
		"--shutdown-timeout", stopBound.String())
	coordinator := actor.NewPID(node.Remote, "coordinator")
	client := harness.Client()

	var (
		mu      sync.Mutex
		replies []reply
		halt    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for range loadClients {
		wg.Go(func() {
			var order string
			for {
				select {
				case <-halt:
					return
				default:
				}
				var req proto.Message = &messages.CreateOrder{CustomerId: "load", Amount: "1.00", Currency: "EUR"}
				if order != "" {
					req = &messages.UpdateOrder{OrderId: order, Amount: proto.String("2.00")}
				}
				r := reply{sent: time.Now()}
				res, err := client.Root.RequestFuture(coordinator, req, 5*time.Second).Result()
				switch m := res.(type) {
				case *messages.CommandAccepted:
					r.accepted, order = m, m.GetOrderId()
				case *messages.CommandRejected:
					r.rejected = m
				default:
					r.err = err
				}
				mu.Lock()
				replies = append(replies, r)
				mu.Unlock()
				if err != nil {
					// The node is going away; do not spin on a dead address.
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	accepted := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range replies {
			if r.accepted != nil {
				n++
			}
		}
		return n
	}
	harness.Eventually(t, time.Minute, func() error {
		if n := accepted(); n < 300 {
			mu.Lock()
			defer mu.Unlock()
			last := reply{}
			if len(replies) > 0 {
				last = replies[len(replies)-1]
			}
			return fmt.Errorf("%d commands accepted so far (%d replies, last: %v %v)", n, len(replies), last.rejected, last.err)
		}
		return nil
	})
	signalled := time.Now()
	exit := node.Stop(t)
	took := time.Since(signalled)
	close(halt)
	wg.Wait()

	f := stopFigures{exit: exit, took: took}
	if exit != 0 || took > stopBound {
		t.Errorf("stop: exit %d after %s (bound %s); log tail:\n%s", exit, took, stopBound, tail(node.Log(), 30))
	}
	m := signalLine.FindStringSubmatch(node.Log())
	if m == nil {
		t.Fatalf("no 'signal received' line in the node log:\n%s", tail(node.Log(), 30))
	}
	logged, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatalf("log time %q: %v", m[1], err)
	}
	// The line's time is cut to the millisecond: a request sent after the
	// next millisecond was certainly sent after the line was written.
	gateClosedBy := logged.Add(time.Millisecond)

	s := openStore(t, node)
	for _, r := range replies {
		switch {
		case r.accepted != nil:
			f.accepted++
			if r.sent.After(signalled) {
				f.acceptedAfterSignal++
			}
			if r.sent.After(gateClosedBy) {
				f.lateAccepts++
				t.Errorf("command sent %s after the node logged the signal was accepted: %v", r.sent.Sub(logged), r.accepted)
			}
			requireInStore(t, s, r.accepted)
		case r.rejected != nil:
			if r.rejected.GetCode() != messages.RejectCode_REJECT_CODE_SHUTTING_DOWN {
				t.Errorf("unexpected rejection %v", r.rejected)
			}
			f.shuttingDown++
		default:
			f.failed++
		}
	}
	return f
}

// requireInStore checks the outbox row of an accepted command, and that the
// order row is at least at its version.
func requireInStore(t *testing.T, s store, a *messages.CommandAccepted) {
	t.Helper()
	id := uuid.MustParse(a.GetOrderId())
	found := false
	for _, ev := range loadEvents(t, s, id) {
		if ev.EventID.String() == a.GetEventId() {
			found = true
		}
	}
	if !found {
		t.Errorf("accepted event %s of order %s version %d is not in the outbox", a.GetEventId(), id, a.GetVersion())
	}
	if row, ok := loadOrder(t, s, id); !ok || row.Version < a.GetVersion() {
		t.Errorf("order %s: row %+v (found %v), want version >= %d", id, row, ok, a.GetVersion())
	}
}
