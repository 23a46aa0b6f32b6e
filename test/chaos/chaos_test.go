package chaos

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/test/harness"
)

// The defaults are the short run of `go test ./...`; `make chaos` raises
// them. A run is replayed with the seed it printed: the same faults in the
// same order at the same counts of acknowledged commands (the interleaving
// of the processes differs).
var (
	seedFlag   = flag.Uint64("chaos.seed", 0, "seed of the fault schedule and the load; 0 picks one from the clock")
	nodeKills  = flag.Int("chaos.node-kills", 2, "SIGKILLs of outbox-node, each followed by a restart")
	storeKills = flag.Int("chaos.store-kills", 1, "SIGKILLs of the store (devstack with a write-ahead log), each followed by a restart")
	outages    = flag.Int("chaos.outages", 1, "broker outages (devstack's SIGUSR1/SIGUSR2 switch)")
	sigterms   = flag.Int("chaos.sigterms", 2, "graceful stops of outbox-node (SIGTERM), each followed by a restart")
	clients    = flag.Int("chaos.clients", 8, "concurrent clients sending commands")
)

const (
	// topicTemplate puts every order event in one topic, so that one
	// order's records are in one partition, in commit order.
	topicTemplate = "orders.{{aggregate_type}}"
	// shutdownTimeout is the node's --shutdown-timeout; a SIGTERM stop
	// must end with exit 0 within it plus stopMargin, or it is a hang.
	shutdownTimeout = 20 * time.Second
	stopMargin      = 10 * time.Second
	// progressTimeout bounds every wait for the load to go on: no command
	// acknowledged for this long is a hang.
	progressTimeout = 2 * time.Minute
	// deliveryTimeout bounds the final wait for the committed events.
	deliveryTimeout = 3 * time.Minute
)

// fault is one kind of injected failure.
type fault int

const (
	nodeKill fault = iota
	storeKill
	brokerOutage
	sigterm
)

func (f fault) String() string {
	return [...]string{"kill -9 node", "kill -9 store", "broker outage", "SIGTERM node"}[f]
}

// phase is one row of the report: a fault, from its start to the next.
type phase struct {
	name  string
	start time.Time
	end   time.Time     // when the next phase began
	atAck int64         // commands acknowledged when it started
	took  time.Duration // from its start to the first acknowledgement after recovery
	notes []string      // what happened, in order
	// pending names a start-up in progress: if the test stops inside it
	// (the harness fails a process that is not ready in time), the report
	// shows it as the hang it is.
	pending string
	hang    bool
}

func (p *phase) note(format string, args ...any) {
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

// hung records a hang and fails the test.
func (r *run) hung(format string, args ...any) {
	p := r.current()
	p.hang = true
	p.note(format+" (hang)", args...)
	r.t.Errorf("phase %d %q at %d acknowledged commands: %s", len(r.phases)-1, p.name, p.atAck, fmt.Sprintf(format, args...))
}

// run is one chaos run: the processes, the load and what was seen.
type run struct {
	t         *testing.T
	seed      uint64
	rng       *rand.Rand
	bins      harness.Binaries
	storeArgs []string
	store     *harness.Devstack // nil on external services
	broker    *harness.Devstack // nil on external services
	kafka     string            // the broker's address
	nodeFlags []string
	node      *harness.Node
	tg        target
	ledger    *ledger
	phases    []*phase
	injected  map[fault]int
	verdict   *verdict
}

// TestChaos runs the load through the binaries while the seeded schedule
// injects its faults, then checks that every acknowledged command's event
// reached Kafka (lost 0), that every committed event did, that each
// order's records carry versions 1, 2, 3... in order after de-duplication,
// and that no stop or start hung. The report is logged at the end, also
// when the run stops early. On external services it kills and stops only
// the node (startSubstrate).
func TestChaos(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("chaos: seed %d (replay: -chaos.seed=%d)", seed, seed)
	r := &run{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0)), bins: harness.Build(t), ledger: newLedger(),
		injected: map[fault]int{}}
	t.Cleanup(func() { t.Log("\n" + r.report()) })

	r.nodeFlags = []string{"--migrate", "--consistency", "ONE", "--topic-template", topicTemplate,
		"--shutdown-timeout", shutdownTimeout.String(), "--log-level", "warn"}
	r.startSubstrate()

	r.begin("start")
	r.startNode()
	stop := make(chan struct{})
	clientsDone := load(seed, *clients, &r.tg, r.ledger, stop)
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
			clientsDone.Wait()
		}
	}
	t.Cleanup(stopLoad)
	if r.awaitProgress() {
		r.inject()
	}
	stopLoad()
	r.verify()
	r.current().end = time.Now()
}

// startSubstrate starts the store and the broker as devstacks of their
// own. With OUTBOX_TEST_SCYLLA and OUTBOX_TEST_KAFKA set it uses those
// instead (StartNode passes them with the test's keyspace and topic
// prefix): they cannot be killed or switched off from here, so the
// schedule then leaves store kills and broker outages out.
func (r *run) startSubstrate() {
	if harness.External() {
		r.kafka = harness.ExternalKafka()
		if harness.ExternalScylla() == "" || r.kafka == "" {
			r.t.Fatalf("the chaos run on external services needs both %s and %s", harness.EnvScylla, harness.EnvKafka)
		}
		r.t.Logf("external services: no %q or %q faults (embedded only: they need the devstacks' processes)", storeKill, brokerOutage)
		return
	}
	r.storeArgs = []string{"--embedded-cql-addr", harness.FreeAddr(r.t), "--embedded-kafka-addr", "", "--data-dir", r.t.TempDir(), "--log-level", "warn"}
	r.store = harness.RunDevstack(r.t, r.bins, r.storeArgs...)
	// The broker runs in its own process so that a store kill keeps its
	// records: kfake keeps them in memory only, while a real broker would
	// have them on disk. Its outages come from devstack's switch.
	r.broker = harness.RunDevstack(r.t, r.bins, "--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", harness.FreeAddr(r.t), "--log-level", "warn")
	r.kafka = r.broker.Kafka
	// A devstack store is one host that stamps writes as they apply, as the
	// embedded one: the node may leave the timestamps to it (10 ms window).
	r.nodeFlags = append(r.nodeFlags, "--scylla-hosts", r.store.CQL, "--kafka-brokers", r.kafka, "--scylla-server-timestamps")
}

// schedule is the faults to inject, in a seeded order.
func (r *run) schedule() []fault {
	storeFaults, brokerFaults := *storeKills, *outages
	if r.store == nil {
		storeFaults, brokerFaults = 0, 0
	}
	var fs []fault
	for f, n := range []int{nodeKill: *nodeKills, storeKill: storeFaults, brokerOutage: brokerFaults, sigterm: *sigterms} {
		for range n {
			fs = append(fs, fault(f))
		}
	}
	r.rng.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
	return fs
}

// inject runs the schedule: each fault fires after a seeded number of
// further acknowledged commands, and the load must go on after it. A
// stop that hangs is counted and the node restarted; a stalled load ends
// the schedule. After the last fault the load runs once more.
func (r *run) inject() {
	for _, f := range r.schedule() {
		if !r.awaitAcks(150 + r.rng.IntN(450)) {
			return
		}
		r.begin(f.String())
		r.injected[f]++
		switch f {
		case nodeKill:
			r.node.Kill(r.t)
			r.tg.set("")
			r.startNode()
		case storeKill:
			r.killStore()
		case brokerOutage:
			r.outage()
		case sigterm:
			r.stopNode()
			r.startNode()
		}
		if !r.awaitProgress() {
			return
		}
	}
	r.begin("load after the last fault")
	r.awaitAcks(150 + r.rng.IntN(450))
}

// begin starts a new phase; outcomes from now on count in it.
// The node must be running then: one that ended by itself crashed.
func (r *run) begin(name string) {
	if len(r.phases) > 0 {
		r.current().end = time.Now()
	}
	if r.node != nil {
		select {
		case <-r.node.Exited():
			r.current().note("node exited by itself with code %d (crash)", r.node.ExitCode())
			r.t.Errorf("before phase %q the node exited by itself with code %d; log tail:\n%s", name, r.node.ExitCode(), tail(r.node.Log(), 40))
		default:
		}
	}
	r.phases = append(r.phases, &phase{name: name, start: time.Now(), atAck: r.ledger.acked.Load()})
	r.ledger.phase.Store(int32(len(r.phases) - 1))
}

func (r *run) current() *phase { return r.phases[len(r.phases)-1] }

// startNode starts a node on the store and broker and points the clients
// at it. A node that does not serve /health within the harness's bound
// fails the test there; the phase says so as a hang.
func (r *run) startNode() {
	p := r.current()
	p.pending = "node not ready"
	start := time.Now()
	r.node = harness.StartNode(r.t, r.bins, r.nodeFlags...)
	p.pending = ""
	p.note("node ready in %.1fs", time.Since(start).Seconds())
	r.tg.set(r.node.Remote)
}

// stopNode stops the node with SIGTERM: it must exit 0 within its
// shutdown timeout plus a margin; otherwise it is a hang (and is killed).
func (r *run) stopNode() {
	start, before := time.Now(), r.ledger.acked.Load()
	code, exited := r.node.StopWithin(shutdownTimeout + stopMargin)
	took := time.Since(start)
	r.tg.set("")
	// The clients keep sending to the stopping node, as real ones would:
	// beyond the few requests already in its mailbox (one per client),
	// acceptances here are commands taken after SIGTERM.
	r.current().note("%d acknowledged while stopping", r.ledger.acked.Load()-before)
	switch {
	case exited && code == 0:
		r.current().note("exit 0 in %.1fs", took.Seconds())
		return
	case exited:
		r.hung("exit %d after %.1fs", code, took.Seconds())
	default:
		r.hung("still running %s after SIGTERM, killed", shutdownTimeout+stopMargin)
	}
	r.t.Logf("log tail of the node that hung:\n%s", tail(r.node.Log(), 40))
}

// killStore kills the store with SIGKILL, keeps it down until the
// clients have seen a seeded number of commands fail (so the node has
// noticed), and restarts it over the same data directory and address.
func (r *run) killStore() {
	failures := 20 + r.rng.IntN(200)
	target := r.ledger.failures.Load() + int64(failures)
	start := time.Now()
	r.store.Kill(r.t)
	err := harness.Within(progressTimeout, func() error {
		if got := r.ledger.failures.Load(); got < target {
			return fmt.Errorf("%d of %d failed commands", got, target)
		}
		return nil
	})
	p := r.current()
	if err != nil {
		p.note("commands did not fail with the store down")
		r.t.Errorf("store down: %v", err)
	}
	down := time.Since(start)
	p.pending = "store not ready"
	start = time.Now()
	r.store = harness.RunDevstack(r.t, r.bins, r.storeArgs...)
	p.pending = ""
	p.note("down %.1fs (%d failed commands), store ready in %.1fs", down.Seconds(), failures, time.Since(start).Seconds())
}

// outage takes the broker down until a seeded number of commands has been
// acknowledged (commands need only the store), then brings it back.
func (r *run) outage() {
	if !r.switchBroker(true) {
		return
	}
	start := time.Now()
	acks := 500 + r.rng.IntN(2000)
	ok := r.awaitAcks(acks)
	if !r.switchBroker(false) || !ok {
		return
	}
	r.current().note("down for %d acknowledged commands (%.1fs)", acks, time.Since(start).Seconds())
}

// switchBroker switches the broker's outage and waits until devstack has
// acknowledged it.
func (r *run) switchBroker(down bool) bool {
	if err := r.broker.SetKafkaOutage(down); err != nil {
		r.hung("broker outage switch: %v", err)
		r.t.Logf("broker devstack log:\n%s", r.broker.Log())
		return false
	}
	return true
}

// awaitAcks waits until n more commands are acknowledged.
func (r *run) awaitAcks(n int) bool {
	target := r.ledger.acked.Load() + int64(n)
	return r.await(fmt.Sprintf("%d more acknowledged commands", n), target)
}

// awaitProgress waits for the first acknowledgement from now on and
// records how long the phase took until then.
func (r *run) awaitProgress() bool {
	ok := r.await("a command acknowledged after recovery", r.ledger.acked.Load()+1)
	if ok {
		p := r.current()
		p.took = time.Since(p.start)
	}
	return ok
}

// await waits until target commands are acknowledged in all; when none
// is within progressTimeout, the phase is a hang.
func (r *run) await(what string, target int64) bool {
	err := harness.Within(progressTimeout, func() error {
		if got := r.ledger.acked.Load(); got < target {
			return fmt.Errorf("%d of %d acknowledged", got, target)
		}
		return nil
	})
	if err == nil {
		return true
	}
	r.hung("load stalled: waited for %s: %v", what, err)
	r.t.Logf("node log tail:\n%s", tail(r.node.Log(), 40))
	return false
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
