package cdc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/outboxnode/outbox/actors/cdcstream"
	"github.com/outboxnode/outbox/infra/checkpoint"
	"github.com/outboxnode/outbox/infra/tracing"
)

// tracer opens the "cdc read" spans; it follows the provider the node installs.
var tracer = tracing.Tracer("github.com/outboxnode/outbox/infra/cdc")

// progressTTL keeps saved progress at least a week (the library default),
// and never shorter than the CDC log it points into.
const progressTTL = 7 * 24 * time.Hour

// flushTimeout bounds one progress save outside a caller's context.
const flushTimeout = 5 * time.Second

// endPoll is how often an ending stream checks that its events are
// acknowledged.
const endPoll = 5 * time.Millisecond

// Source reads the outbox CDC log with scylla-cdc-go. Each Run builds a new
// Reader that resumes from the progress saved in ProgressTable.
type Source struct {
	cfg     Config
	session *gocql.Session
	log     *slog.Logger

	// progress replaces the table-backed progress in ProgressTable; guard,
	// when set, is asked before each change is delivered (see Option).
	progress scyllacdc.ProgressManager
	guard    func() error

	mu  sync.Mutex
	cur *run // the latest run, kept after it ends for Flush and Lags
}

var _ cdcstream.Source = (*Source)(nil)

// Option adapts a Source to one outbox shard of cluster mode.
type Option func(*Source)

// WithProgress keeps the reader's progress in pm (a shard's fenced
// checkpoints, infra/lease) instead of ProgressTable.
func WithProgress(pm scyllacdc.ProgressManager) Option {
	return func(s *Source) { s.progress = pm }
}

// WithGuard asks guard before each change is delivered; an error (the
// shard's lease is no longer held) ends the run with it, so a node that
// lost a shard delivers nothing more of it.
func WithGuard(guard func() error) Option {
	return func(s *Source) { s.guard = guard }
}

// New validates cfg (after SetDefaults); session must stay open while the
// Source is used.
func New(cfg Config, session *gocql.Session, log *slog.Logger, opts ...Option) (*Source, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if session == nil {
		return nil, fmt.Errorf("%w: session is required", ErrInvalidConfig)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Source{cfg: cfg, session: session, log: log}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Run implements cdcstream.Source.
func (s *Source) Run(ctx context.Context, deliver func(cdcstream.Delivery)) error {
	pm, err := s.progressManager()
	if err != nil {
		return err
	}
	r := &run{cfg: s.cfg, guard: s.guard, log: s.log, deliver: deliver, window: checkpoint.NewWindow(s.cfg.InFlight), streams: map[string]*stream{},
		kick: make(chan struct{}, 1), cancelled: ctx.Done(), session: s.session, resumed: map[string]gocql.UUID{},
		resume: resumeLog{log: s.log, table: s.cfg.Keyspace + "." + s.cfg.ProgressTable}}
	s.mu.Lock()
	s.cur = r
	s.mu.Unlock()

	reader, err := scyllacdc.NewReader(ctx, &scyllacdc.ReaderConfig{
		Session:               s.session,
		TableNames:            []string{s.cfg.Keyspace + "." + s.cfg.Table},
		Consistency:           s.cfg.Consistency,
		ChangeConsumerFactory: r,
		ProgressManager:       resumeRecorder{pm, r},
		Logger:                printfLogger{s.log, r},
		Advanced: scyllacdc.AdvancedReaderConfig{
			ConfidenceWindowSize:   s.cfg.ConfidenceWindow,
			PostNonEmptyQueryDelay: s.cfg.PollDelay,
			PostEmptyQueryDelay:    s.cfg.IdleDelay,
			PostFailedQueryDelay:   s.cfg.FailedDelay,
			QueryTimeWindowSize:    s.cfg.QueryWindow,
			ChangeAgeLimit:         s.cfg.ChangeAgeLimit,
			// One table per reader, as tablets-based CDC requires.
			PostGenerationFetchDelay: s.cfg.GenerationPoll,
		},
	})
	if err != nil {
		return fmt.Errorf("cdc reader over %s.%s: %w", s.cfg.Keyspace, s.cfg.Table, err)
	}
	var bg sync.WaitGroup
	bgCtx, stopBg := context.WithCancel(context.Background())
	bg.Go(func() { r.flushEvery(bgCtx, s.cfg.ProgressInterval) })
	bg.Go(func() { r.probeEvery(bgCtx, s.cfg.LagProbeInterval) })
	err = reader.Run(ctx)
	stopBg()
	bg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	r.stopped.Store(true)
	if err == nil {
		err = errors.New("reader stopped")
	}
	return fmt.Errorf("cdc reader over %s.%s: %w", s.cfg.Keyspace, s.cfg.Table, err)
}

// progressManager is where the run loads and saves its progress.
func (s *Source) progressManager() (scyllacdc.ProgressManager, error) {
	if s.progress != nil {
		return s.progress, nil
	}
	pm, err := scyllacdc.NewTableBackedProgressManager(s.session, s.cfg.Keyspace+"."+s.cfg.ProgressTable, s.cfg.ApplicationName)
	if err != nil {
		return nil, fmt.Errorf("cdc progress table %s.%s: %w", s.cfg.Keyspace, s.cfg.ProgressTable, err)
	}
	pm.SetTTL(int32(max(progressTTL, s.cfg.ChangeAgeLimit).Seconds()))
	return pm, nil
}

// Flush implements cdcstream.Source.
func (s *Source) Flush(ctx context.Context) error {
	if r := s.current(); r != nil {
		return r.flush(ctx)
	}
	return nil
}

// Lags implements cdcstream.Source.
func (s *Source) Lags(now time.Time) map[string]time.Duration {
	r := s.current()
	if r == nil {
		return nil
	}
	return r.lags(now)
}

// ReadErr implements cdcstream.Source: the latest failure of the reader's
// queries (which the library retries on its own, so Run goes on) or of
// the lag probe, while no later read succeeded.
func (s *Source) ReadErr() error {
	if r := s.current(); r != nil {
		return r.readErr()
	}
	return nil
}

func (s *Source) current() *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// run is one Reader's state: its streams and in-flight window.
type run struct {
	cfg     Config
	log     *slog.Logger
	deliver func(cdcstream.Delivery)
	guard   func() error
	window  *checkpoint.Window
	// kick asks the flusher to save now rather than at its next tick:
	// the window is under pressure and acks moved a checkpoint.
	kick chan struct{}
	// cancelled is closed when the run's context ends (a stop): the
	// caller's Flush then saves the progress, not each ending stream.
	cancelled <-chan struct{}

	mu      sync.Mutex
	streams map[string]*stream
	// resumed is the progress the reader loaded per stream, by name.
	resumed map[string]gocql.UUID
	resume  resumeLog

	// session serves the lag probe (lag.go).
	session *gocql.Session
	health  readHealth
	// stopped is set when the reader failed: nothing is read until the
	// next run, and the probe no longer runs.
	stopped atomic.Bool
}

// stream is one CDC stream's tracker and its progress reporter.
type stream struct {
	name     string
	id       scyllacdc.StreamID
	tracker  checkpoint.Tracker
	reporter *scyllacdc.ProgressReporter
	// saveMu serialises saves, so an older checkpoint never overwrites a newer one.
	saveMu sync.Mutex
}

// CreateChangeConsumer implements scyllacdc.ChangeConsumerFactory; each
// generation has streams of its own, so a stream is created once per run.
func (r *run) CreateChangeConsumer(_ context.Context, in scyllacdc.CreateChangeConsumerInput) (scyllacdc.ChangeConsumer, error) {
	name := hex.EncodeToString(in.StreamID)
	st := &stream{name: name, id: in.StreamID, reporter: in.ProgressReporter}
	r.mu.Lock()
	r.streams[name] = st
	resumed := r.resumed[name]
	r.mu.Unlock()
	st.tracker.Reached(resumed, time.Now())
	return &consumer{run: r, stream: st}, nil
}

func (r *run) all() []*stream {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*stream, 0, len(r.streams))
	for _, st := range r.streams {
		out = append(out, st)
	}
	return out
}

// flushEvery saves progress every interval, and at once when kicked.
func (r *run) flushEvery(ctx context.Context, interval time.Duration) {
	checkpoint.Every(ctx, interval, r.kick, func() {
		if err := r.flush(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("save cdc progress", slog.Any("err", err))
		}
	})
}

// wake kicks the flusher without blocking.
func (r *run) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// flushParallelism caps the progress saves in flight at once: a cluster
// has many streams, and a stop has a bounded time to save them all.
const flushParallelism = 16

// flush saves the progress of every stream that advanced.
func (r *run) flush(ctx context.Context) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, flushParallelism)
	)
	for _, st := range r.all() {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := r.save(ctx, st); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// save checkpoints st up to its acknowledged events and releases their
// window slots.
func (r *run) save(ctx context.Context, st *stream) error {
	st.saveMu.Lock()
	defer st.saveMu.Unlock()
	at, slots, ok := st.tracker.ToSave()
	if !ok {
		return nil
	}
	if err := st.reporter.MarkProgress(ctx, scyllacdc.Progress{LastProcessedRecordTime: at}); err != nil {
		return fmt.Errorf("stream %s: %w", st.name, err)
	}
	st.tracker.MarkSaved(at, slots)
	r.window.Release(slots)
	return nil
}

func (r *run) lags(now time.Time) map[string]time.Duration {
	out := make(map[string]time.Duration)
	for _, st := range r.all() {
		out[st.name] = st.tracker.Lag(now, r.stopped.Load())
	}
	return out
}

// consumer hands one stream's events to the stream actor.
type consumer struct {
	run    *run
	stream *stream
}

// Consume implements scyllacdc.ChangeConsumer: it takes a window slot per
// event (blocking while the window is full) and delivers the events of the
// change's delta rows; an error stops the reader, so only ctx ends it.
func (c *consumer) Consume(ctx context.Context, ch scyllacdc.Change) error {
	rows := make([]*scyllacdc.ChangeRow, 0, len(ch.Delta))
	for _, row := range ch.Delta {
		if IsEventRow(row) {
			rows = append(rows, row)
		}
	}
	c.run.health.ok(time.Now())
	if c.run.guard != nil && len(rows) > 0 {
		if err := c.run.guard(); err != nil {
			return err
		}
	}
	tc := c.stream.tracker.Begin(ch.Time, len(rows))
	for _, row := range rows {
		req := Decode(row)
		// The "cdc read" span covers the wait for a window slot and the hand-over,
		// a child of the command that wrote the event.
		span := tracing.StartFromHeaders(ctx, tracer, "cdc read", trace.SpanKindConsumer, req.GetEvent().GetHeaders())
		if span.IsRecording() {
			span.SetAttributes(attribute.String("cdc.stream", c.stream.name), attribute.String("event.id", req.GetEvent().GetEventId()))
		}
		if err := c.run.window.Acquire(ctx, c.run.wake); err != nil {
			span.SetStatus(codes.Error, err.Error())
			span.End()
			return err
		}
		var once sync.Once
		c.run.deliver(cdcstream.Delivery{
			Stream:  c.stream.name,
			Request: req,
			Ack: func() {
				once.Do(func() {
					if c.stream.tracker.Ack(tc) && c.run.window.Pressed() {
						c.run.wake()
					}
				})
			},
		})
		span.End()
	}
	return nil
}

// Empty implements scyllacdc.ChangeOrEmptyNotificationConsumer: a poll
// found nothing, so the stream is read up to ackTime.
func (c *consumer) Empty(_ context.Context, ackTime gocql.UUID) error {
	now := time.Now()
	c.run.health.ok(now)
	c.stream.tracker.Reached(ackTime, now)
	return nil
}

// End implements scyllacdc.ChangeConsumer. The reader ends a stream when
// its generation (on a tablets table, its stream set after a split or
// merge) is read to the end; it starts the next one only once every End
// returned, and then records that one as where a restart resumes. So End
// waits until every event read from the stream is acknowledged and saves
// that progress: nothing of the old streams is left to a restart, and an
// aggregate's events of the new streams are delivered after its older
// ones are published. A stopped run leaves the save to the caller's Flush,
// which has a bounded time for all streams.
func (c *consumer) End() error {
	tick := time.NewTicker(endPoll)
	defer tick.Stop()
	for !c.stream.tracker.Acked() {
		select {
		case <-c.run.cancelled:
			return nil
		case <-tick.C:
		}
	}
	// A failed save is retried: the reader must not move on without it.
	for {
		select {
		case <-c.run.cancelled:
			return nil
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		err := c.run.save(ctx, c.stream)
		cancel()
		if err == nil {
			return nil
		}
		c.run.log.Warn("save cdc progress at stream end", slog.Any("err", err))
		select {
		case <-c.run.cancelled:
			return nil
		case <-time.After(c.run.cfg.FailedDelay):
		}
	}
}

// printfLogger sends the library's output to slog at debug level, but for
// its failed queries: the library retries them on its own, so this is the
// only place they show; they are logged as warnings and make the run's
// reads unhealthy until the next one succeeds.
type printfLogger struct {
	log *slog.Logger
	run *run
}

func (l printfLogger) Printf(format string, v ...any) {
	if n, ok := streamCount(format, v); ok {
		l.run.mu.Lock()
		l.run.resume.expect(n)
		l.run.mu.Unlock()
	}
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	if strings.HasPrefix(msg, "error while") || strings.HasPrefix(msg, "table not found") {
		l.run.health.failed(time.Now(), msg)
		l.log.Warn("cdc reader: "+msg, slog.String("component", "scylla-cdc-go"))
		return
	}
	l.log.Debug(msg, slog.String("component", "scylla-cdc-go"))
}
