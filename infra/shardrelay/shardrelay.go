// Package shardrelay is the read side of the relay in cluster mode: the
// outbox is split into K CDC tables, and a Source reads those shards this
// node should own (its placement over the live members), each under a
// fenced lease (infra/lease), with one CDC reader per shard (infra/cdc).
// To the cdcstream actor it is one more cdcstream.Source: deliveries of all
// its shards, stream names prefixed with the shard.
//
// A shard is read only while its lease is held: the lease is renewed every
// RenewInterval, a lost renewal stops the shard's reader at once, and the
// reader itself asks the lease before each change, so a node resumed from
// a long pause delivers nothing more of a shard it no longer holds. Its
// checkpoints are conditional on the lease's epoch, so they cannot move
// either. A shard placed elsewhere is handed over: reading stops, the
// events in flight are acknowledged (bounded by HandoverTimeout), the
// progress saved, and the lease released so the new owner starts at once.
package shardrelay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/outboxnode/outbox/actors/cdcstream"
	"github.com/outboxnode/outbox/infra/lease"
)

// Lease is one shard's lease as held by this node.
type Lease interface {
	// Valid is false once the lease may have passed to another node: its
	// deadline passed on this node's clock without a renewal.
	Valid(now time.Time) bool
}

// Leases takes, keeps and gives back shard leases; infra/lease implements it.
type Leases interface {
	Acquire(ctx context.Context, shard int) (Lease, error)
	// Renew extends l and records the shard's lag (for outboxctl cluster);
	// an error means the lease is, or may be, lost.
	Renew(ctx context.Context, l Lease, lag time.Duration) error
	Release(ctx context.Context, l Lease) error
}

// Reader reads one shard under lease: a cdc.Source built with the lease's
// fenced progress and with guard as its guard.
type Reader interface {
	Run(ctx context.Context, deliver func(cdcstream.Delivery)) error
	Flush(ctx context.Context) error
	Lags(now time.Time) map[string]time.Duration
	ReadErr() error
}

// NewReader builds the reader of shard under l; guard fails once l is no
// longer valid.
type NewReader func(shard int, l Lease, guard func() error) (Reader, error)

// Placement reports the shards this node should own now.
type Placement func() []int

// Metrics receives each shard's figures on this node; infra/metrics
// implements it. A shard's lag is reported only while this node holds it,
// so that summing over the nodes never counts a shard twice.
type Metrics interface {
	ShardHeld(shard int, held bool)
	ShardLag(shard int, lag time.Duration)
	// ShardEventProcessed counts one of the shard's events acknowledged by
	// the publisher (published, dead-lettered or parked).
	ShardEventProcessed(shard int)
}

type nopMetrics struct{}

func (nopMetrics) ShardHeld(int, bool)         {}
func (nopMetrics) ShardLag(int, time.Duration) {}
func (nopMetrics) ShardEventProcessed(int)     {}

// Config tunes a Source. Zero fields take the defaults below.
type Config struct {
	// RenewInterval is how often leases are renewed and placement is
	// applied; a third of the lease TTL leaves two renewals to fail before
	// the lease can expire.
	RenewInterval time.Duration
	// RetryDelay is the pause before a failed shard reader is started again.
	RetryDelay time.Duration
	// HandoverTimeout bounds the wait for a handed-over shard's events in
	// flight; what is not acknowledged by then is read again by the new
	// owner (a duplicate, never a loss).
	HandoverTimeout time.Duration
	// OpTimeout bounds one lease operation.
	OpTimeout time.Duration
	// Metrics receives the per-shard figures; nil reports none.
	Metrics Metrics
}

// Defaults of Config.
const (
	DefaultRenewInterval   = time.Second
	DefaultRetryDelay      = time.Second
	DefaultHandoverTimeout = 10 * time.Second
	DefaultOpTimeout       = 5 * time.Second
)

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	for _, d := range []struct {
		p *time.Duration
		v time.Duration
	}{{&c.RenewInterval, DefaultRenewInterval}, {&c.RetryDelay, DefaultRetryDelay}, {&c.HandoverTimeout, DefaultHandoverTimeout}, {&c.OpTimeout, DefaultOpTimeout}} {
		if *d.p == 0 {
			*d.p = d.v
		}
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
}

// Validate reports the first bad setting.
func (c Config) Validate() error {
	if c.RenewInterval <= 0 || c.RetryDelay <= 0 || c.HandoverTimeout <= 0 || c.OpTimeout <= 0 {
		return errors.New("shardrelay: intervals and timeouts must be positive")
	}
	return nil
}

// ErrLeaseLost is the guard's error once a shard's lease is no longer valid.
var ErrLeaseLost = errors.New("shard lease lost")

// Source reads the shards placed on this node; see the package comment.
type Source struct {
	cfg       Config
	leases    Leases
	newReader NewReader
	place     Placement
	log       *slog.Logger

	mu     sync.Mutex
	shards map[int]*shard
	// ended holds shards whose reading stopped while the node stops: Flush
	// saves their progress, then releases their leases.
	ended map[int]*shard
}

var _ cdcstream.Source = (*Source)(nil)

// New returns a Source; nothing runs before Run.
func New(cfg Config, leases Leases, place Placement, newReader NewReader, log *slog.Logger) (*Source, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if leases == nil || place == nil || newReader == nil {
		return nil, errors.New("shardrelay: leases, placement and reader factory are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{cfg: cfg, leases: leases, newReader: newReader, place: place, log: log,
		shards: map[int]*shard{}, ended: map[int]*shard{}}, nil
}

// shard is one shard held by this node and its reader.
type shard struct {
	id     int
	lease  Lease
	reader Reader
	cancel context.CancelFunc
	done   chan struct{}
	// inflight counts deliveries not yet acknowledged, for a handover.
	inflight sync.WaitGroup
}

func (s *shard) prefix(stream string) string { return "shard" + strconv.Itoa(s.id) + "/" + stream }

// Run implements cdcstream.Source: it applies the placement and renews the
// leases every RenewInterval until ctx ends, then stops every reader; the
// final Flush saves their progress and releases their leases.
func (s *Source) Run(ctx context.Context, deliver func(cdcstream.Delivery)) error {
	t := time.NewTicker(s.cfg.RenewInterval)
	defer t.Stop()
	for {
		s.step(ctx, deliver)
		select {
		case <-ctx.Done():
			s.stopAll()
			return nil
		case <-t.C:
		}
	}
}

// step renews what is held, hands over what is placed elsewhere and takes
// what is placed here.
func (s *Source) step(ctx context.Context, deliver func(cdcstream.Delivery)) {
	want := s.place()
	for _, sh := range s.held() {
		if ctx.Err() != nil {
			return
		}
		if !slices.Contains(want, sh.id) {
			s.handover(ctx, sh)
			continue
		}
		lag := slices.Max(append(slices.Collect(maps.Values(sh.reader.Lags(time.Now()))), 0))
		if err := s.op(ctx, func(octx context.Context) error { return s.leases.Renew(octx, sh.lease, lag) }); err != nil {
			s.log.Warn("shard lease lost: stopped reading it", slog.Int("shard", sh.id), slog.Any("err", err))
			s.drop(ctx, sh)
			continue
		}
		s.cfg.Metrics.ShardLag(sh.id, lag)
	}
	for _, id := range want {
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		_, ok := s.shards[id]
		s.mu.Unlock()
		if !ok {
			s.take(ctx, id, deliver)
		}
	}
}

func (s *Source) op(ctx context.Context, f func(context.Context) error) error {
	octx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	return f(octx)
}

func (s *Source) held() []*shard {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*shard, 0, len(s.shards))
	for _, sh := range s.shards {
		out = append(out, sh)
	}
	slices.SortFunc(out, func(a, b *shard) int { return a.id - b.id })
	return out
}

// take acquires id's lease and starts its reader; a shard still held by
// another node is tried again at the next step.
func (s *Source) take(ctx context.Context, id int, deliver func(cdcstream.Delivery)) {
	var l Lease
	err := s.op(ctx, func(octx context.Context) (err error) {
		l, err = s.leases.Acquire(octx, id)
		return err
	})
	if err != nil {
		s.log.Debug("shard lease not taken", slog.Int("shard", id), slog.Any("err", err))
		return
	}
	sh := &shard{id: id, lease: l, done: make(chan struct{})}
	guard := func() error {
		if !l.Valid(time.Now()) {
			return fmt.Errorf("shard %d: %w", id, ErrLeaseLost)
		}
		return nil
	}
	r, err := s.newReader(id, l, guard)
	if err != nil {
		s.log.Error("shard reader", slog.Int("shard", id), slog.Any("err", err))
		s.release(ctx, sh)
		return
	}
	sh.reader = r
	rctx, cancel := context.WithCancel(context.Background())
	sh.cancel = cancel
	s.mu.Lock()
	s.shards[id] = sh
	s.mu.Unlock()
	s.cfg.Metrics.ShardHeld(id, true)
	s.log.Info("shard taken", slog.Int("shard", id))
	go s.read(rctx, sh, deliver)
}

// read runs sh's reader until it is cancelled, starting it again after a
// failure, but only while the lease is valid.
func (s *Source) read(ctx context.Context, sh *shard, deliver func(cdcstream.Delivery)) {
	defer close(sh.done)
	each := func(d cdcstream.Delivery) {
		sh.inflight.Add(1)
		ack := d.Ack
		var once sync.Once
		d.Ack = func() {
			ack()
			once.Do(func() {
				sh.inflight.Done()
				s.cfg.Metrics.ShardEventProcessed(sh.id)
			})
		}
		d.Stream = sh.prefix(d.Stream)
		deliver(d)
	}
	for {
		if sh.lease.Valid(time.Now()) {
			err := sh.reader.Run(ctx, each)
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("shard reader stopped, restarting while the lease holds", slog.Int("shard", sh.id), slog.Any("err", err), slog.Duration("in", s.cfg.RetryDelay))
		}
		// With the lease no longer valid the next renewal decides: it drops
		// the shard, or the reader starts again.
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.RetryDelay):
		}
	}
}

// drop forgets a shard whose lease is lost: its reader stops, and its
// acknowledged progress is offered once more. The save is conditional on
// the lease's epoch: it lands if no other node took the shard (a renewal
// that failed on the network), and the fence refuses it if one did.
func (s *Source) drop(ctx context.Context, sh *shard) {
	sh.cancel()
	<-sh.done
	err := s.op(ctx, sh.reader.Flush)
	switch {
	case errors.Is(err, lease.ErrFenced):
		s.log.Warn("shard lease lost: its checkpoint was refused by the epoch fence", slog.Int("shard", sh.id), slog.Any("err", err))
	case err != nil:
		s.log.Warn("shard lease lost: save progress", slog.Int("shard", sh.id), slog.Any("err", err))
	}
	s.forget(sh)
}

// forget removes sh from the shards held.
func (s *Source) forget(sh *shard) {
	s.mu.Lock()
	delete(s.shards, sh.id)
	s.mu.Unlock()
	s.cfg.Metrics.ShardHeld(sh.id, false)
}

// handover gives a shard placed elsewhere to its new owner: stop reading,
// wait for the events in flight, save the progress, release the lease.
func (s *Source) handover(ctx context.Context, sh *shard) {
	sh.cancel()
	<-sh.done
	acked := make(chan struct{})
	go func() {
		sh.inflight.Wait()
		close(acked)
	}()
	select {
	case <-acked:
	case <-time.After(s.cfg.HandoverTimeout):
		s.log.Warn("shard handover: events still in flight are left to the new owner", slog.Int("shard", sh.id))
	case <-ctx.Done():
	}
	if err := s.op(ctx, sh.reader.Flush); err != nil {
		s.log.Warn("shard handover: save progress", slog.Int("shard", sh.id), slog.Any("err", err))
	}
	s.release(ctx, sh)
	s.forget(sh)
	s.log.Info("shard handed over", slog.Int("shard", sh.id))
}

func (s *Source) release(ctx context.Context, sh *shard) {
	if err := s.op(context.WithoutCancel(ctx), func(octx context.Context) error { return s.leases.Release(octx, sh.lease) }); err != nil {
		s.log.Warn("release shard lease", slog.Int("shard", sh.id), slog.Any("err", err))
	}
}

// stopAll stops every reader as the node stops; Flush then saves and
// releases.
func (s *Source) stopAll() {
	for _, sh := range s.held() {
		sh.cancel()
		<-sh.done
		s.mu.Lock()
		delete(s.shards, sh.id)
		s.ended[sh.id] = sh
		s.mu.Unlock()
		s.cfg.Metrics.ShardHeld(sh.id, false)
	}
}

// Flush implements cdcstream.Source: it saves every shard's progress, and
// releases the leases of shards whose reading ended with the node's stop,
// so their new owners need not wait for the leases to expire.
func (s *Source) Flush(ctx context.Context) error {
	s.mu.Lock()
	running := make([]*shard, 0, len(s.shards))
	for _, sh := range s.shards {
		running = append(running, sh)
	}
	ended := s.ended
	s.ended = map[int]*shard{}
	s.mu.Unlock()
	var errs []error
	for _, sh := range running {
		if err := sh.reader.Flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shard %d: %w", sh.id, err))
		}
	}
	for _, sh := range ended {
		if err := sh.reader.Flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shard %d: %w", sh.id, err))
			continue
		}
		if err := s.leases.Release(ctx, sh.lease); err != nil {
			errs = append(errs, fmt.Errorf("release shard %d: %w", sh.id, err))
		}
	}
	return errors.Join(errs...)
}

// Lags implements cdcstream.Source, per shard-prefixed stream.
func (s *Source) Lags(now time.Time) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, sh := range s.held() {
		for stream, lag := range sh.reader.Lags(now) {
			out[sh.prefix(stream)] = lag
		}
	}
	return out
}

// ReadErr implements cdcstream.Source.
func (s *Source) ReadErr() error {
	var errs []error
	for _, sh := range s.held() {
		if err := sh.reader.ReadErr(); err != nil {
			errs = append(errs, fmt.Errorf("shard %d: %w", sh.id, err))
		}
	}
	return errors.Join(errs...)
}

// Owned lists the shards this node reads now.
func (s *Source) Owned() []int {
	var out []int
	for _, sh := range s.held() {
		out = append(out, sh.id)
	}
	return out
}
