package cdc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/infra/checkpoint"
)

// The lag must see what the reader has not returned: a reader whose
// queries fail (the library retries them forever), or that is stuck, reads
// nothing, so the events it has not reached would never count. Every
// LagProbeInterval the probe asks the CDC log, for each stream the reader
// has not confirmed reading for longer than ConfidenceWindow plus that
// interval, for the oldest committed change after the stream's position;
// the tracker counts it in the lag until the reader reaches it.

// probeParallelism caps the probe queries in flight at once.
const probeParallelism = 8

// probeTimeout bounds one probe round at least this much.
const probeTimeout = 5 * time.Second

// probeEvery runs the lag probe every interval until ctx ends.
func (r *run) probeEvery(ctx context.Context, interval time.Duration) {
	checkpoint.Every(ctx, interval, nil, func() {
		pctx, cancel := context.WithTimeout(ctx, max(interval, probeTimeout))
		defer cancel()
		r.probe(pctx, time.Now())
	})
}

// probe looks for unread committed changes in the streams whose position
// is stale, and records the outcome in their trackers and in the run's
// read health.
func (r *run) probe(ctx context.Context, now time.Time) {
	stale := now.Add(-(r.cfg.ConfidenceWindow + r.cfg.LagProbeInterval))
	logTable := r.cfg.Keyspace + "." + r.cfg.Table + "_scylla_cdc_log"
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, probeParallelism)
	)
	for _, st := range r.all() {
		from, at := st.tracker.Position()
		if at.After(stale) {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			lower := from
			if lower == (gocql.UUID{}) {
				// Nothing read nor saved yet: the reader starts no
				// further back than ChangeAgeLimit.
				lower = gocql.MinTimeUUID(now.Add(-r.cfg.ChangeAgeLimit))
			}
			var first gocql.UUID
			err := r.session.Query(`SELECT "cdc$time" FROM `+logTable+` WHERE "cdc$stream_id" = ? AND "cdc$time" > ? LIMIT 1`,
				[]byte(st.id), lower).WithContext(ctx).Consistency(r.cfg.Consistency).Scan(&first)
			switch {
			case errors.Is(err, gocql.ErrNotFound):
				st.tracker.Probed(from, gocql.UUID{}, false)
			case err != nil:
				st.tracker.Probed(from, gocql.UUID{}, true)
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("stream %s: %w", st.name, err)
				}
				mu.Unlock()
			default:
				st.tracker.Probed(from, first, false)
			}
		})
	}
	wg.Wait()
	r.health.probed(firstErr)
}

// readErr is why reading the CDC log fails now, nil while it works.
func (r *run) readErr() error { return r.health.err() }

// readHealth is the state of the reader's queries and of the lag probe.
type readHealth struct {
	mu sync.Mutex
	// lastErr is the reader's latest failed query, at errAt; okAt is its
	// latest successful one.
	lastErr     string
	errAt, okAt time.Time
	probeErr    error
}

func (h *readHealth) ok(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.okAt = now
}

func (h *readHealth) failed(now time.Time, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastErr, h.errAt = msg, now
}

func (h *readHealth) probed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probeErr = err
}

func (h *readHealth) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.lastErr != "" && h.errAt.After(h.okAt):
		return fmt.Errorf("cdc reader query failing since %s: %s", h.errAt.UTC().Format(time.RFC3339), h.lastErr)
	case h.probeErr != nil:
		return fmt.Errorf("cdc log unreadable by the lag probe: %w", h.probeErr)
	}
	return nil
}

var _ scyllacdc.ProgressManagerWithStartTime = resumeRecorder{}

// resumeRecorder is the reader's progress manager, which also records the
// progress each stream resumes from: the stream's first position.
type resumeRecorder struct {
	scyllacdc.ProgressManager
	run *run
}

// GetProgress implements scyllacdc.ProgressManager.
func (p resumeRecorder) GetProgress(ctx context.Context, gen time.Time, table string, id scyllacdc.StreamID) (scyllacdc.Progress, error) {
	pr, err := p.ProgressManager.GetProgress(ctx, gen, table, id)
	if err == nil {
		p.run.mu.Lock()
		p.run.resumed[id.String()] = pr.LastProcessedRecordTime
		p.run.resume.loaded(pr.LastProcessedRecordTime)
		p.run.mu.Unlock()
	}
	return pr, err
}

// GetApplicationReadStartTime implements scyllacdc.ProgressManagerWithStartTime
// for a manager that keeps no start time: the reader then starts
// ChangeAgeLimit back.
func (p resumeRecorder) GetApplicationReadStartTime(ctx context.Context) (time.Time, error) {
	if s, ok := p.ProgressManager.(scyllacdc.ProgressManagerWithStartTime); ok {
		return s.GetApplicationReadStartTime(ctx)
	}
	return time.Time{}, nil
}

// SaveApplicationReadStartTime implements scyllacdc.ProgressManagerWithStartTime.
func (p resumeRecorder) SaveApplicationReadStartTime(ctx context.Context, t time.Time) error {
	if s, ok := p.ProgressManager.(scyllacdc.ProgressManagerWithStartTime); ok {
		return s.SaveApplicationReadStartTime(ctx, t)
	}
	return nil
}
