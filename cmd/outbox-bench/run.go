package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/outboxpoll"
	"github.com/outboxnode/outbox/infra/scylla"
)

// Defaults of a run (runConfig.SetDefaults).
const (
	DefaultStep         = 6 * time.Second
	DefaultCeiling      = 5 * time.Second
	DefaultDrainTimeout = 45 * time.Second
	DefaultEmbeddedRate = 1000
	// DefaultWindow is the CDC confidence window of the relays on devstack:
	// the node's value with server write timestamps, which the node uses on
	// devstack as embedded, both being a single-node store.
	DefaultWindow = cdc.ServerTimestampsConfidenceWindow
	// profiledLoad is the offered load of the CDC row whose node CPU
	// profile --pprof captures.
	profiledLoad = 1000
	// drainQuiet ends a backlog drain in which no record arrived for this long.
	drainQuiet = 10 * time.Second
)

// DefaultLoads are the offered loads in orders/s; 0 is "max" (unpaced).
var DefaultLoads = []int{250, 1000, 4000, 0}

// runConfig is one bench run.
type runConfig struct {
	Loads        []int
	Relays       []string      // which of naive, cdc, poll, embedded run; empty: all
	Step         time.Duration // one offered load
	Ceiling      time.Duration // each bare loop
	DrainTimeout time.Duration // longest wait for a backlog or a step's events
	EmbeddedRate int           // orders/s of the embedded row
	Window       time.Duration
	Pprof        string // directory of the node's CPU profile of the cdc row at profiledLoad; empty: none
	Bins         binaries
}

// SetDefaults fills the zero fields.
func (c *runConfig) SetDefaults() {
	if len(c.Loads) == 0 {
		c.Loads = DefaultLoads
	}
	c.Step = cmpOr(c.Step, DefaultStep)
	c.Ceiling = cmpOr(c.Ceiling, DefaultCeiling)
	c.DrainTimeout = cmpOr(c.DrainTimeout, DefaultDrainTimeout)
	c.EmbeddedRate = cmpOr(c.EmbeddedRate, DefaultEmbeddedRate)
	c.Window = cmpOr(c.Window, DefaultWindow)
}

// Validate rejects a run that cannot measure anything.
func (c runConfig) Validate() error {
	var errs []error
	for _, l := range c.Loads {
		if l < 0 {
			errs = append(errs, fmt.Errorf("load %d: negative", l))
		}
	}
	if c.Step <= 0 || c.Ceiling <= 0 || c.DrainTimeout <= 0 || c.Window <= 0 {
		errs = append(errs, errors.New("step, ceiling, drain timeout and window must be positive"))
	}
	for _, r := range c.Relays {
		if !slices.Contains([]string{"naive", "cdc", "poll", "embedded"}, r) {
			errs = append(errs, fmt.Errorf("relay %q: want naive, cdc, poll or embedded", r))
		}
	}
	if c.EmbeddedRate <= 0 {
		errs = append(errs, fmt.Errorf("embedded rate %d: must be positive", c.EmbeddedRate))
	}
	if c.Bins.node == "" || c.Bins.devstack == "" || c.Bins.bench == "" {
		errs = append(errs, errors.New("the node, devstack and bench binaries are needed"))
	}
	return errors.Join(errs...)
}

// runs tells whether the relay called name (naive, cdc, poll, embedded) is measured.
func (c runConfig) runs(name string) bool {
	return len(c.Relays) == 0 || slices.Contains(c.Relays, name)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// ceilings are the bare driver loops' rates and CPU, in the bench process.
type ceilings struct {
	batches, records      int
	batchRate, recordRate float64
	batchCPU, recordCPU   time.Duration
	recordBytes           int
}

// lower is the lower of the two ceilings: what end to end can reach at most.
func (c ceilings) lower() float64 { return min(c.batchRate, c.recordRate) }

// cpuPer1k is the bare loops' CPU seconds for 1,000 events: one batch plus one record each.
func (c ceilings) cpuPer1k() float64 {
	return 1000 * (c.batchCPU.Seconds()/float64(max(c.batches, 1)) + c.recordCPU.Seconds()/float64(max(c.records, 1)))
}

// row is one relay at one offered load.
type row struct {
	relay         string
	mode          string
	offered       int // 0: max
	orders        float64
	events        float64
	p50, p95, p99 time.Duration
	cpuPer1k      float64 // node (or naive relay) CPU seconds per 1,000 events
	peakRSS       int64   // KiB, the process's peak so far
	missing       int     // committed events not published within the drain timeout
}

// relayResult is one relay's backlog drain and its rows.
type relayResult struct {
	name    string
	drain   float64
	drained int
	rows    []row
}

// best is the row with the most events/s: the relay's end-to-end rate.
func (r relayResult) best() row {
	return slices.MaxFunc(r.rows, func(a, b row) int { return cmpFloat(a.events, b.events) })
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// report is everything one run measured.
type report struct {
	cfg      runConfig
	ceil     ceilings
	relays   []relayResult
	embedded relayResult
}

// relay is a publisher under test: the process that publishes and how one
// change is committed for it.
type relay struct {
	name     string
	mode     string // how it reads: write timestamps and window, for the table
	topic    string
	start    func() (*proc, error)
	commit   func() (string, error)
	workers  int
	external bool // on devstack: topics exist before it starts, and a backlog waits
	brokers  func() string
	metrics  func() string // the node's metrics address, for --pprof; nil where not profiled
}

// bench runs one measurement after another on one devstack.
type bench struct {
	cfg     runConfig
	log     *slog.Logger
	cql     string
	kafka   string
	session gocqlx.Session
	store   *scylla.Store
	written int // events committed to the devstack store so far
}

func runBench(ctx context.Context, cfg runConfig, log *slog.Logger) (*report, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bench run: %w", err)
	}
	ds, cql, brokers, err := startDevstack(cfg.Bins.devstack)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ds.stop(stopTimeout) }()
	log.Info("devstack ready", "cql", cql, "kafka", brokers)
	session, scfg, err := storeSession(ctx, cql, 0)
	if err != nil {
		return nil, err
	}
	defer session.Close()
	b := &bench{cfg: cfg, log: log, cql: cql, kafka: brokers, session: session, store: scylla.NewStore(session, scfg.Keyspace)}
	rep := &report{cfg: cfg}
	if rep.ceil, err = b.ceilings(ctx); err != nil {
		return nil, err
	}
	for _, r := range b.relays() {
		if !cfg.runs(r.name) {
			continue
		}
		res, err := b.measure(ctx, r, cfg.Loads)
		if err != nil {
			return nil, fmt.Errorf("relay %s: %w", r.name, err)
		}
		rep.relays = append(rep.relays, res)
	}
	if cfg.runs("embedded") {
		if rep.embedded, err = b.measure(ctx, b.embeddedRelay(), []int{cfg.EmbeddedRate}); err != nil {
			return nil, fmt.Errorf("embedded: %w", err)
		}
	}
	return rep, nil
}

// ceilings runs the bare loops. The batches stay in the store: they are
// the backlog each relay drains first.
func (b *bench) ceilings(ctx context.Context) (ceilings, error) {
	var c ceilings
	b.log.Info("ceiling: bare gocqlx LOGGED BATCH loop", "for", b.cfg.Ceiling, "workers", storeWorkers)
	cpu0 := selfCPU()
	res := pace(ctx, pacing{d: b.cfg.Ceiling, workers: storeWorkers}, commitDirect(b.store))
	c.batchCPU = selfCPU() - cpu0
	if res.errs > 0 {
		return c, fmt.Errorf("bare store loop: %d errors, last: %w", res.errs, res.lastErr)
	}
	c.batches, c.batchRate = len(res.ids), res.rate()
	b.written += c.batches

	mapper, err := kafka.NewMapper("bare.{{event_type}}")
	if err != nil {
		return c, fmt.Errorf("bare records: %w", err)
	}
	recs := make([]kafka.Record, 1024)
	for i := range recs {
		ch, err := newChange(time.Now())
		if err != nil {
			return c, err
		}
		if recs[i], err = mapper.Record(ch.Event); err != nil {
			return c, fmt.Errorf("bare record: %w", err)
		}
	}
	c.recordBytes = len(recs[0].Value)
	if err := createTopics(b.kafka, recs[0].Topic); err != nil {
		return c, err
	}
	b.log.Info("ceiling: bare sarama producer loop", "for", b.cfg.Ceiling, "value_bytes", c.recordBytes)
	cpu0 = selfCPU()
	acked, elapsed, err := produceLoop(ctx, b.kafka, recs, b.cfg.Ceiling)
	c.recordCPU = selfCPU() - cpu0
	if err != nil {
		return c, err
	}
	c.records, c.recordRate = acked, float64(acked)/elapsed.Seconds()
	b.log.Info("ceilings", "batches/s", int(c.batchRate), "records/s", int(c.recordRate))
	return c, nil
}

// relays are the naive relay, the node's CDC relay and its polling relay,
// on devstack. The naive relay goes first: its backlog is the bare loop's
// batches only.
func (b *bench) relays() []relay {
	window := "server ts, " + b.cfg.Window.String() + " window"
	return []relay{{
		name: "naive", mode: window, topic: "naive.OrderCreated", workers: storeWorkers, external: true,
		brokers: func() string { return b.kafka },
		start: func() (*proc, error) {
			p, err := startProc("naive-relay", b.cfg.Bins.bench, "naive-relay", "--scylla-hosts", b.cql, "--kafka-brokers", b.kafka,
				"--topic-template", "naive.{{event_type}}", "--confidence-window", b.cfg.Window.String())
			if err != nil {
				return nil, err
			}
			if _, err := p.waitLine(readyTimeout, naiveReadyLine); err != nil {
				_ = p.stop(stopTimeout)
				return nil, err
			}
			return p, nil
		},
		commit: commitDirect(b.store),
	},
		b.nodeRelay("cdc", window),
		b.nodeRelay("poll", "server ts, "+outboxpoll.DefaultSafetyLag.String()+" safety lag", "--source", "poll")}
}

// nodeRelay is outbox-node on devstack publishing to name.<event type>;
// its load is CreateOrder commands.
func (b *bench) nodeRelay(name, mode string, extra ...string) relay {
	var n *node
	return relay{
		name: name, mode: mode, topic: name + ".OrderCreated", workers: commandWorkers, external: true,
		brokers: func() string { return b.kafka },
		metrics: func() string { return n.metrics },
		start: func() (*proc, error) {
			var err error
			args := append(devstackNodeArgs(b.cql, b.kafka, b.cfg.Window), "--topic-template", name+".{{event_type}}",
				fmt.Sprintf("--pprof=%t", b.cfg.Pprof != ""))
			n, err = startNode(b.cfg.Bins.node, append(args, extra...)...)
			if err != nil {
				return nil, err
			}
			return n.proc, nil
		},
		commit: func() (string, error) { return newCommander().create(n.remote) },
	}
}

// embeddedRelay is outbox-node in embedded mode (store and broker in its
// process) with its defaults: server write timestamps and their window.
func (b *bench) embeddedRelay() relay {
	var n *node
	return relay{
		name: "cdc-embedded", mode: "embedded default: server ts, " + cdc.ServerTimestampsConfidenceWindow.String() + " window",
		topic: "OrderCreated", workers: commandWorkers,
		brokers: func() string { return n.kafka },
		start: func() (*proc, error) {
			var err error
			n, err = startNode(b.cfg.Bins.node)
			if err != nil {
				return nil, err
			}
			return n.proc, nil
		},
		commit: func() (string, error) { return newCommander().create(n.remote) },
	}
}

// measure starts r, measures how fast it drains the backlog waiting for it
// (on devstack), then runs each offered load for one step.
func (b *bench) measure(ctx context.Context, r relay, loads []int) (res relayResult, err error) {
	res.name = r.name
	var coll *collector
	if r.external {
		if err := createTopics(r.brokers(), r.topic); err != nil {
			return res, err
		}
		if coll, err = collect(ctx, r.brokers(), r.topic); err != nil {
			return res, err
		}
		defer func() { coll.close() }()
	}
	b.log.Info("start", "relay", r.name, "backlog", b.written)
	p, err := r.start()
	if err != nil {
		return res, err
	}
	defer func() {
		if serr := p.stop(stopTimeout); serr != nil && err == nil {
			err = serr
		}
	}()
	if r.external {
		got := coll.waitCount(ctx, b.written, drainQuiet, b.cfg.DrainTimeout)
		res.drain, res.drained = coll.drainRate(got)
		b.log.Info("backlog drained", "relay", r.name, "events", res.drained, "of", b.written, "events/s", int(res.drain))
	}
	// One change through the whole path before any step: it creates the
	// embedded node's topics and proves the relay publishes.
	id, err := r.commit()
	if err != nil {
		return res, fmt.Errorf("warm-up: %w", err)
	}
	if r.external {
		b.written++
	} else {
		if err := createTopics(r.brokers(), r.topic); err != nil {
			return res, err
		}
		if coll, err = collect(ctx, r.brokers(), r.topic); err != nil {
			return res, err
		}
		defer func() { coll.close() }()
	}
	if got := coll.waitIDs(ctx, []string{id}, b.cfg.DrainTimeout); len(got) == 0 {
		return res, fmt.Errorf("warm-up event %s not published within %s: %s", id, b.cfg.DrainTimeout, p.tail())
	}
	for _, load := range loads {
		rw, err := b.step(ctx, r, p, coll, load)
		if err != nil {
			return res, err
		}
		res.rows = append(res.rows, rw)
	}
	return res, nil
}

// step offers load orders/s for one step and waits for their events.
func (b *bench) step(ctx context.Context, r relay, p *proc, coll *collector, load int) (row, error) {
	rw := row{relay: r.name, mode: r.mode, offered: load}
	cpu0, err := p.cpu()
	if err != nil {
		return rw, err
	}
	profiled := make(chan error, 1)
	if b.cfg.Pprof != "" && r.name == "cdc" && load == profiledLoad {
		go func() { profiled <- b.profile(ctx, r.metrics(), r.name, load) }()
	} else {
		profiled <- nil
	}
	start := time.Now()
	lr := pace(ctx, pacing{rate: load, d: b.cfg.Step, workers: r.workers}, r.commit)
	if err := <-profiled; err != nil {
		return rw, err
	}
	if r.external {
		b.written += len(lr.ids)
	}
	if len(lr.ids) == 0 {
		return rw, fmt.Errorf("%s at %s: nothing committed (%d errors, last: %v)", r.name, loadName(load), lr.errs, lr.lastErr)
	}
	arr := coll.waitIDs(ctx, lr.ids, b.cfg.DrainTimeout)
	cpu1, err := p.cpu()
	if err != nil {
		return rw, err
	}
	if rw.peakRSS, err = p.memKiB("VmHWM"); err != nil {
		return rw, err
	}
	rw.orders = lr.rate()
	rw.missing = len(lr.ids) - len(arr)
	lat := make([]time.Duration, 0, len(arr))
	first, last := start.Add(time.Hour), start
	for _, a := range arr {
		lat = append(lat, a.received.Sub(a.occurred))
		first, last = minTime(first, a.received), maxTime(last, a.received)
	}
	if len(arr) > 0 {
		// From the first to the last arrival: the publish rate, without the
		// commit-to-publish delay before the first event.
		if span := last.Sub(first); span > 0 {
			rw.events = float64(len(arr)-1) / span.Seconds()
		}
		rw.p50, rw.p95, rw.p99 = percentiles(lat)
		rw.cpuPer1k = 1000 * (cpu1 - cpu0).Seconds() / float64(len(arr))
	}
	b.log.Info("step", "relay", r.name, "offered", loadName(load), "orders/s", int(rw.orders), "events/s", int(rw.events),
		"p50", rw.p50.Round(time.Millisecond), "p99", rw.p99.Round(time.Millisecond), "missing", rw.missing, "errors", lr.errs)
	return rw, nil
}

// profile saves the node's CPU profile over one step, from its
// /debug/pprof/profile (outbox-node --pprof), as <Pprof>/<relay>-<load>.cpu.pprof.
func (b *bench) profile(ctx context.Context, metrics, relay string, load int) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", metrics, max(1, int(b.cfg.Step.Seconds())))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cpu profile %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cpu profile %s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(b.cfg.Pprof, 0o755); err != nil {
		return fmt.Errorf("cpu profile dir: %w", err)
	}
	path := filepath.Join(b.cfg.Pprof, fmt.Sprintf("%s-%d.cpu.pprof", relay, load))
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("cpu profile %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cpu profile %s: %w", path, err)
	}
	b.log.Info("cpu profile", "relay", relay, "offered", load, "file", path)
	return nil
}

// percentiles are the p50, p95 and p99 of d (sorted in place).
func percentiles(d []time.Duration) (p50, p95, p99 time.Duration) {
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return at(0.50), at(0.95), at(0.99)
}

func loadName(load int) string {
	if load == 0 {
		return "max"
	}
	return fmt.Sprint(load)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
