package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/actors/cdcstream"
	"github.com/outboxnode/outbox/actors/publisher"
	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/resilience"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/schema"
	"github.com/outboxnode/outbox/test/harness"
)

const (
	// benchBacklog events (3 per aggregate) wait in the CDC log before a
	// relay starts: its drain rate is its throughput.
	benchBacklog = 30000
	// benchRate events/s are committed for benchSteady while a relay runs:
	// their commit-to-publish latencies give p50/p99.
	benchRate   = 1000
	benchSteady = 5 * time.Second
)

// BenchmarkRelayVsNaive compares, in one run on the embedded default
// (miniscylla, minikafka, 500 ms confidence window, in one process), the
// relay (infra/cdc source -> cdcstream -> publisher -> batched idempotent
// producer) with a naive relay over the same CDC reader: one synchronous
// SendMessage and one progress write per event. For each it reports the
// drain rate of a backlog (events/s) and the commit-to-publish latency
// (event time to Kafka ack) at 1,000 events/s. Run it once:
//
//	go test -run '^$' -bench RelayVsNaive -benchtime 1x ./test/relay/
func BenchmarkRelayVsNaive(b *testing.B) {
	harness.EmbeddedOnly(b, "it runs the store, the broker and both relays in the bench's own process")
	env := newBenchEnv(b)
	results := map[string]benchResult{}
	for _, r := range []struct {
		name  string
		start func(*benchEnv, *latencies) (stop func())
	}{
		{"relay", startRelay},
		{"naive", startNaive},
	} {
		results[r.name] = env.measure(b, r.start)
	}
	relay, naive := results["relay"], results["naive"]
	b.Logf("\n%-6s %12s %10s %10s\n%-6s %12.0f %10s %10s\n%-6s %12.0f %10s %10s\nthroughput ratio %.1fx",
		"relay", "events/s", "p50", "p99",
		"relay", relay.rate, relay.p50, relay.p99,
		"naive", naive.rate, naive.p50, naive.p99, relay.rate/naive.rate)
	b.ReportMetric(relay.rate, "relay-events/s")
	b.ReportMetric(naive.rate, "naive-events/s")
	b.ReportMetric(float64(relay.p99.Milliseconds()), "relay-p99-ms")
	b.ReportMetric(float64(naive.p99.Milliseconds()), "naive-p99-ms")
	b.ReportMetric(float64(relay.p50.Milliseconds()), "relay-p50-ms")
	b.ReportMetric(float64(naive.p50.Milliseconds()), "naive-p50-ms")
}

type benchResult struct {
	rate     float64
	p50, p99 time.Duration
}

// benchEnv is the store and broker both relays run against.
type benchEnv struct {
	session *gocql.Session
	brokers []string
	cfg     cdc.Config
	log     *slog.Logger
	written int
}

func newBenchEnv(b *testing.B) *benchEnv {
	ctx := context.Background()
	srv, err := miniscylla.Start(ctx, miniscylla.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	broker, err := minikafka.Start(ctx, minikafka.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(broker.Close)
	node := config.Default()
	node.Scylla.Consistency = "ONE"
	quiet := slog.New(slog.DiscardHandler)
	s, err := scylla.Connect(ctx, node.Scylla, []string{srv.Addr()}, quiet)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	stmts, err := schema.Statements(node.Scylla)
	if err != nil {
		b.Fatal(err)
	}
	if err := scylla.Migrate(ctx, s, stmts); err != nil {
		b.Fatal(err)
	}
	return &benchEnv{session: s.Session, brokers: []string{broker.Addr()}, log: quiet, cfg: cdc.Config{
		Keyspace: node.Scylla.Keyspace, Consistency: gocql.One, ChangeAgeLimit: node.Scylla.OutboxTTL,
		ConfidenceWindow: node.CDCConfidenceWindow(), PollDelay: node.Relay.CDC.PollDelay, IdleDelay: node.Relay.CDC.IdleDelay,
		InFlight: node.Relay.CDC.InFlight, ProgressInterval: node.Relay.CDC.ProgressInterval,
	}}
}

// measure writes a backlog, starts the relay, measures its drain rate, then commits
// benchRate events/s for benchSteady and collects their latencies. Every
// relay reads the whole log (its own progress rows), so the second one's
// backlog also holds the first one's events.
func (e *benchEnv) measure(b *testing.B, start func(*benchEnv, *latencies) func()) benchResult {
	e.write(b, benchBacklog, 0)
	lat := &latencies{}
	backlog := e.written
	stop := start(e, lat)
	defer stop()
	lat.wait(b, backlog)
	rate := lat.rate()
	lat.reset()
	e.write(b, int(benchSteady.Seconds())*benchRate, benchRate)
	lat.wait(b, int(benchSteady.Seconds())*benchRate)
	p50, p99 := lat.quantiles()
	return benchResult{rate: rate, p50: p50, p99: p99}
}

// write commits n outbox events, three per aggregate, at rate events/s (0:
// as fast as 16 writers go).
func (e *benchEnv) write(b *testing.B, n, rate int) {
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		tick = t.C
	}
	jobs := make(chan [2]any)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 16 {
		wg.Go(func() {
			for j := range jobs {
				err := e.session.Query(`INSERT INTO orders_ks.outbox_messages (aggregate_id, event_id, aggregate_type, aggregate_version, event_type, payload, created_at)
					VALUES (?, ?, 'order', ?, 'OrderUpdated', ?, ?)`, j[0], gocql.TimeUUID(), j[1], []byte(`{"bench":true}`), time.Now()).Exec()
				if err != nil {
					failed.Store(err)
				}
			}
		})
	}
	var agg gocql.UUID
	for i := range n {
		if tick != nil {
			<-tick
		}
		if i%3 == 0 {
			agg = gocql.MustRandomUUID()
		}
		jobs <- [2]any{agg, i%3 + 1}
	}
	close(jobs)
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatalf("write events: %v", err)
	}
	e.written += n
}

// latencies collects commit-to-publish latencies of acknowledged events,
// and the first and last ack times.
type latencies struct {
	mu          sync.Mutex
	all         []time.Duration
	first, last time.Time
}

func (l *latencies) add(committed, acked time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, acked.Sub(committed))
	if l.first.IsZero() {
		l.first = acked
	}
	l.last = acked
}

func (l *latencies) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all, l.first, l.last = nil, time.Time{}, time.Time{}
}

// rate is the events acknowledged per second between the first and the
// last ack: the drain rate, without the reader's start-up.
func (l *latencies) rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return float64(len(l.all)-1) / l.last.Sub(l.first).Seconds()
}

func (l *latencies) wait(b *testing.B, n int) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		l.mu.Lock()
		got := len(l.all)
		l.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d events published", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *latencies) quantiles() (p50, p99 time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return quantiles(slices.Clone(l.all))
}

// Published, CDCEventProcessed and DeadLettered make latencies the
// publisher's Metrics.
func (l *latencies) Published(committed, acked time.Time) { l.add(committed, acked) }
func (l *latencies) CDCEventProcessed()                   {}
func (l *latencies) DeadLettered()                        {}

// noDeadLetters is the DLQ of a benchmark in which nothing fails.
type noDeadLetters struct{}

func (noDeadLetters) Store(context.Context, []*messages.DeadLetter) error {
	return errors.New("benchmark: unexpected dead letter")
}

func (noDeadLetters) Pending(context.Context, string) ([]*messages.DeadLetter, error) {
	return nil, nil
}

// startRelay runs the node's relay: CDC source -> cdcstream -> publisher.
func startRelay(e *benchEnv, lat *latencies) func() {
	producer, err := kafka.New(kafka.Config{Brokers: e.brokers, TopicTemplate: "relay.{{event_type}}", Logger: e.log})
	if err != nil {
		panic(err)
	}
	policy, err := resilience.New(resilience.Config{}, resilience.WithPermanent(kafka.IsPermanent))
	if err != nil {
		panic(err)
	}
	pub, err := publisher.Props(publisher.Config{}, publisher.Deps{
		Producer: producer, Policy: policy, DeadLetters: noDeadLetters{}, IsPermanent: kafka.IsPermanent, Metrics: lat,
	})
	if err != nil {
		panic(err)
	}
	cfg := e.cfg
	cfg.ApplicationName = "bench-relay"
	src, err := cdc.New(cfg, e.session, e.log)
	if err != nil {
		panic(err)
	}
	props, err := cdcstream.Props(cdcstream.Config{LogTTL: cfg.ChangeAgeLimit}, cdcstream.Deps{Source: src, Publisher: pub})
	if err != nil {
		panic(err)
	}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return e.log }))
	pid := sys.Root.Spawn(props)
	return func() {
		_ = sys.Root.PoisonFuture(pid).Wait()
		_ = producer.Close()
	}
}

// startNaive runs the naive relay over the same reader settings: each
// event is sent with one synchronous SendMessage, then its progress saved.
func startNaive(e *benchEnv, lat *latencies) func() {
	conf := sarama.NewConfig()
	conf.Producer.Idempotent = true
	conf.Producer.RequiredAcks = sarama.WaitForAll
	conf.Producer.Return.Successes = true
	conf.Net.MaxOpenRequests = 1
	producer, err := sarama.NewSyncProducer(e.brokers, conf)
	if err != nil {
		panic(err)
	}
	mapper, err := kafka.NewMapper("naive.{{event_type}}")
	if err != nil {
		panic(err)
	}
	pm, err := scyllacdc.NewTableBackedProgressManager(e.session, e.cfg.Keyspace+"."+cdc.DefaultProgressTable, "bench-naive")
	if err != nil {
		panic(err)
	}
	reader, err := scyllacdc.NewReader(context.Background(), &scyllacdc.ReaderConfig{
		Session: e.session, TableNames: []string{e.cfg.Keyspace + "." + cdc.DefaultTable}, Consistency: gocql.One,
		ProgressManager:       pm,
		ChangeConsumerFactory: naiveFactory{producer: producer, mapper: mapper, lat: lat},
		Advanced: scyllacdc.AdvancedReaderConfig{
			ConfidenceWindowSize: e.cfg.ConfidenceWindow, PostNonEmptyQueryDelay: e.cfg.PollDelay,
			PostEmptyQueryDelay: e.cfg.IdleDelay, ChangeAgeLimit: e.cfg.ChangeAgeLimit,
		},
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = reader.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
		_ = producer.Close()
	}
}

type naiveFactory struct {
	producer sarama.SyncProducer
	mapper   *kafka.Mapper
	lat      *latencies
}

func (f naiveFactory) CreateChangeConsumer(_ context.Context, in scyllacdc.CreateChangeConsumerInput) (scyllacdc.ChangeConsumer, error) {
	return &naiveConsumer{f: f, reporter: in.ProgressReporter}, nil
}

type naiveConsumer struct {
	f        naiveFactory
	reporter *scyllacdc.ProgressReporter
}

func (c *naiveConsumer) Consume(ctx context.Context, ch scyllacdc.Change) error {
	for _, row := range ch.Delta {
		if !cdc.IsEvent(row.GetOperation()) {
			continue
		}
		ev := cdc.Decode(row).GetEvent()
		rec, err := c.f.mapper.Record(ev)
		if err != nil {
			return err
		}
		msg := &sarama.ProducerMessage{Topic: rec.Topic, Key: sarama.ByteEncoder(rec.Key), Value: sarama.ByteEncoder(rec.Value), Timestamp: rec.Timestamp}
		for _, h := range rec.Headers {
			msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: []byte(h.Value)})
		}
		if _, _, err := c.f.producer.SendMessage(msg); err != nil {
			return fmt.Errorf("naive send: %w", err)
		}
		c.f.lat.add(ev.GetOccurredAt().AsTime(), time.Now())
		if err := c.reporter.MarkProgress(ctx, scyllacdc.Progress{LastProcessedRecordTime: ch.Time}); err != nil {
			return fmt.Errorf("naive progress: %w", err)
		}
	}
	return nil
}

func (c *naiveConsumer) End() error { return nil }
