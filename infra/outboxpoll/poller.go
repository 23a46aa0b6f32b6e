package outboxpoll

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/actors/cdcstream"
	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/checkpoint"
)

// Stream is the one stream the poller reports (the lag metric's label).
const Stream = "poll"

// Poller scans outbox_messages by created_at. Each Run resumes from the
// position saved in OffsetsTable.
type Poller struct {
	cfg     Config
	session *gocql.Session
	log     *slog.Logger

	mu  sync.Mutex
	cur *run // the latest run, kept after it ends for Flush and Lags
}

var _ cdcstream.Source = (*Poller)(nil)

// New validates cfg (after SetDefaults); session must stay open while the
// Poller is used.
func New(cfg Config, session *gocql.Session, log *slog.Logger) (*Poller, error) {
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
	return &Poller{cfg: cfg, session: session, log: log}, nil
}

// Run implements cdcstream.Source: it scans until ctx ends (then it
// returns nil) or the saved position cannot be loaded. A failed scan is
// retried after Interval over half the range; ReadErr reports it meanwhile.
func (p *Poller) Run(ctx context.Context, deliver func(cdcstream.Delivery)) error {
	from, err := p.load(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	r := &run{Poller: p, deliver: deliver, window: checkpoint.NewWindow(p.cfg.InFlight), kick: make(chan struct{}, 1)}
	r.tracker.Reached(gocql.MinTimeUUID(from), time.Now())
	p.mu.Lock()
	p.cur = r
	p.mu.Unlock()

	var bg sync.WaitGroup
	bgCtx, stopBg := context.WithCancel(context.Background())
	defer func() {
		stopBg()
		bg.Wait()
	}()
	bg.Go(func() {
		checkpoint.Every(bgCtx, p.cfg.ProgressInterval, r.kick, func() {
			if err := r.save(bgCtx); err != nil && bgCtx.Err() == nil {
				p.log.Warn("save outbox poll position", slog.Any("err", err))
			}
		})
	})
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		if from, err = r.catchUp(ctx, from); ctx.Err() != nil {
			return nil
		}
		if err != nil {
			p.log.Warn("outbox poll scan failed, retrying over a narrower range", slog.Any("err", err), slog.Duration("range", r.span))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Flush implements cdcstream.Source.
func (p *Poller) Flush(ctx context.Context) error {
	if r := p.current(); r != nil {
		return r.save(ctx)
	}
	return nil
}

// Lags implements cdcstream.Source: the age of the oldest event read and
// not acknowledged, or else of the position read up to, which is never
// younger than SafetyLag: an event committed after it may still be unread.
func (p *Poller) Lags(now time.Time) map[string]time.Duration {
	r := p.current()
	if r == nil {
		return nil
	}
	return map[string]time.Duration{Stream: r.tracker.Lag(now, true)}
}

// ReadErr implements cdcstream.Source: the last scan's failure, nil once
// one succeeded.
func (p *Poller) ReadErr() error {
	if r := p.current(); r != nil {
		r.errMu.Lock()
		defer r.errMu.Unlock()
		return r.readErr
	}
	return nil
}

func (p *Poller) current() *run {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// load returns the saved position, or StartAge ago without one.
func (p *Poller) load(ctx context.Context) (time.Time, error) {
	var pos time.Time
	err := p.session.Query(`SELECT position FROM `+p.cfg.Keyspace+`.`+p.cfg.OffsetsTable+` WHERE relay = ?`, p.cfg.RelayName).
		WithContext(ctx).Consistency(p.cfg.Consistency).Scan(&pos)
	switch {
	case errors.Is(err, gocql.ErrNotFound) || err == nil && pos.IsZero():
		return time.Now().Add(-p.cfg.StartAge).Truncate(time.Millisecond), nil
	case err != nil:
		return time.Time{}, fmt.Errorf("load outbox poll position from %s.%s: %w", p.cfg.Keyspace, p.cfg.OffsetsTable, err)
	}
	return pos, nil
}

// run is one Run's state.
type run struct {
	*Poller
	deliver func(cdcstream.Delivery)
	// tracker orders every event read (one change each, at its created_at)
	// and every range end (a change without events): its checkpoint is
	// where a scan resumes, created_at >= it.
	tracker checkpoint.Tracker
	window  *checkpoint.Window
	// kick asks the saver to save now: the window is under pressure.
	kick chan struct{}
	// span is the width of the next range read, zero for "up to the safety
	// lag"; a failed or too large read halves it, one under half the cap
	// doubles it.
	span time.Duration
	// saveMu serialises saves, so an older position never overwrites a newer one.
	saveMu sync.Mutex

	errMu   sync.Mutex
	readErr error
}

// catchUp reads the ranges from `from` up to SafetyLag ago, delivering
// their events, and returns where the next scan starts.
func (r *run) catchUp(ctx context.Context, from time.Time) (time.Time, error) {
	limit := time.Now().Add(-r.cfg.SafetyLag).Truncate(time.Millisecond)
	for from.Before(limit) {
		to := limit
		if r.span > 0 && from.Add(r.span).Before(to) {
			to = from.Add(r.span)
		}
		rows, err := r.read(ctx, from, to, r.cfg.MaxRows+1)
		if err == nil && len(rows) > r.cfg.MaxRows {
			if to.Sub(from) > time.Millisecond {
				r.span = max(to.Sub(from)/2, time.Millisecond).Truncate(time.Millisecond)
				continue
			}
			// One millisecond holds more than MaxRows: it cannot be split.
			rows, err = r.read(ctx, from, to, 0)
		}
		r.setReadErr(err)
		if err != nil {
			r.span = max(to.Sub(from)/2, time.Millisecond).Truncate(time.Millisecond)
			return from, err
		}
		if err := r.deliverAll(ctx, rows); err != nil {
			return from, err
		}
		r.tracker.Begin(gocql.MinTimeUUID(to), 0)
		// Widen only well below the cap: a read over it costs a whole scan.
		if r.span > 0 && len(rows) < r.cfg.MaxRows/2 {
			r.span *= 2
		}
		from = to
	}
	return from, nil
}

// deliverAll hands the events of one range over in created_at order (an
// aggregate's in version order), taking a window slot for each.
func (r *run) deliverAll(ctx context.Context, rows []*row) error {
	slices.SortStableFunc(rows, func(a, b *row) int {
		return cmp.Or(a.createdAt.Compare(*b.createdAt), cmp.Compare(deref(a.version), deref(b.version)))
	})
	for _, rw := range rows {
		if err := r.window.Acquire(ctx, r.wake); err != nil {
			return err
		}
		c := r.tracker.Begin(gocql.MinTimeUUID(*rw.createdAt), 1)
		var once sync.Once
		r.deliver(cdcstream.Delivery{
			Stream:  Stream,
			Request: cdc.Decode(rw),
			Ack: func() {
				once.Do(func() {
					if r.tracker.Ack(c) && r.window.Pressed() {
						r.wake()
					}
				})
			},
		})
	}
	return nil
}

// read returns the rows with from <= created_at < to, at most limit (0:
// all). Without a partition key this scans the whole table.
func (r *run) read(ctx context.Context, from, to time.Time, limit int) ([]*row, error) {
	stmt := `SELECT aggregate_id, event_id, aggregate_type, aggregate_version, event_type, payload, headers, created_at FROM ` +
		r.cfg.Keyspace + `.` + r.cfg.Table + ` WHERE created_at >= ? AND created_at < ?`
	if limit > 0 {
		stmt += fmt.Sprintf(" LIMIT %d", limit)
	}
	iter := r.session.Query(stmt+" ALLOW FILTERING", from, to).WithContext(ctx).Consistency(r.cfg.Consistency).Iter()
	var rows []*row
	for {
		rw := &row{}
		if !iter.Scan(&rw.aggregateID, &rw.eventID, &rw.aggregateType, &rw.version, &rw.eventType, &rw.payload, &rw.headers, &rw.createdAt) {
			break
		}
		rows = append(rows, rw)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("scan %s.%s from %s to %s: %w", r.cfg.Keyspace, r.cfg.Table,
			from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano), err)
	}
	return rows, nil
}

// save writes the acknowledged position and releases its window slots.
func (r *run) save(ctx context.Context) error {
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	at, slots, ok := r.tracker.ToSave()
	if !ok {
		return nil
	}
	err := r.session.Query(`INSERT INTO `+r.cfg.Keyspace+`.`+r.cfg.OffsetsTable+` (relay, position, saved_at) VALUES (?, ?, ?)`,
		r.cfg.RelayName, at.Time(), time.Now()).WithContext(ctx).Consistency(r.cfg.Consistency).Exec()
	if err != nil {
		return fmt.Errorf("save outbox poll position: %w", err)
	}
	r.tracker.MarkSaved(at, slots)
	r.window.Release(slots)
	return nil
}

// wake kicks the saver without blocking.
func (r *run) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *run) setReadErr(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	r.readErr = err
}

// row is one outbox row; nil pointers are nulls. It is a cdc.Row, so the
// CDC relay's decoder (and its dead-lettering of bad rows) serves both.
type row struct {
	aggregateID, eventID     *gocql.UUID
	aggregateType, eventType *string
	version                  *int
	payload                  []byte
	headers                  map[string]string
	createdAt                *time.Time
}

var _ cdc.Row = (*row)(nil)

// GetValue implements cdc.Row.
func (r *row) GetValue(column string) (any, bool) {
	switch column {
	case "aggregate_id":
		return r.aggregateID, true
	case "event_id":
		return r.eventID, true
	case "aggregate_type":
		return r.aggregateType, true
	case "aggregate_version":
		return r.version, true
	case "event_type":
		return r.eventType, true
	case "payload":
		return r.payload, true
	case "headers":
		return r.headers, true
	case "created_at":
		return r.createdAt, true
	}
	return nil, false
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
