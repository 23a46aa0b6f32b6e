package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/outboxnode/outbox/messages"
)

// Series `top` reads from the node's /metrics (see infra/metrics).
const (
	seriesEvents    = "cdc_events_processed_total"
	seriesPublished = "outbox_commit_to_publish_seconds"
	seriesCommands  = "outbox_commands_total"
	seriesDLQ       = "dlq_messages_total"
	seriesBreaker   = "circuit_breaker_state"
	seriesLag       = "cdc_lag_seconds"
)

// snapshot is one reading of the node: counter totals from /metrics and
// the dead letters waiting, from the node's DLQ list.
type snapshot struct {
	at         time.Time
	events     float64 // events acked to the CDC stream: published, dead-lettered or parked
	published  float64 // events Kafka acknowledged
	commands   float64 // commands handled, any result
	rejected   float64 // commands handled with a result other than accepted
	dlqEntered float64 // events ever written to the DLQ since the node started
	lag        *float64
	breaker    string
	dlqWaiting int // dead letters now dead or parked
}

// parseMetrics reads the counters of a /metrics body in the Prometheus
// text format into s.
func parseMetrics(body io.Reader, s *snapshot) error {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(body)
	if err != nil {
		return fmt.Errorf("parse metrics: %w", err)
	}
	s.events = sum(families[seriesEvents], nil)
	s.dlqEntered = sum(families[seriesDLQ], nil)
	s.commands = sum(families[seriesCommands], nil)
	s.rejected = sum(families[seriesCommands], func(m *dto.Metric) bool { return label(m, "result") != "accepted" })
	for _, m := range families[seriesPublished].GetMetric() {
		s.published += float64(m.GetHistogram().GetSampleCount())
	}
	s.lag = nil
	for _, m := range families[seriesLag].GetMetric() {
		if v := m.GetGauge().GetValue(); s.lag == nil || v > *s.lag {
			s.lag = &v
		}
	}
	s.breaker = "unknown"
	if ms := families[seriesBreaker].GetMetric(); len(ms) > 0 {
		s.breaker = breakerName(ms[0].GetGauge().GetValue())
	}
	return nil
}

// sum adds the counter or gauge values of the family's series that keep
// selects (all of them when keep is nil).
func sum(f *dto.MetricFamily, keep func(*dto.Metric) bool) float64 {
	var total float64
	for _, m := range f.GetMetric() {
		if keep != nil && !keep(m) {
			continue
		}
		total += m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
	}
	return total
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// breakerName names a circuit_breaker_state value.
func breakerName(v float64) string {
	switch v {
	case 0:
		return "closed"
	case 1:
		return "open"
	case 2:
		return "half-open"
	}
	return fmt.Sprintf("unknown(%g)", v)
}

// topSource takes snapshots of one node: its /metrics over HTTP and its
// DLQ over Proto.Actor remote.
type topSource struct {
	http    *http.Client
	metrics string
	node    *client
}

// sample takes one snapshot. An unreachable /metrics or node is an
// *UnreachableError.
func (src *topSource) sample(ctx context.Context) (snapshot, error) {
	var s snapshot
	if err := src.scrape(ctx, &s); err != nil {
		return s, err
	}
	n, err := src.dlqWaiting(ctx)
	if err != nil {
		return s, fmt.Errorf("list dead letters: %w", err)
	}
	s.dlqWaiting = n
	s.at = time.Now()
	return s, nil
}

// dlqWaiting asks the node for its dead letters and counts those waiting.
// The request is bounded by --timeout, not ctx, so the wait for it stops
// at ctx's end (Ctrl+C) and the reply, if any, is dropped.
func (src *topSource) dlqWaiting(ctx context.Context) (int, error) {
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := expect[*messages.DLQListResult](src.node.request(&messages.DLQList{}))
		done <- result{waiting(r.GetLetters()), err}
	}()
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case r := <-done:
		return r.n, r.err
	}
}

func (src *topSource) scrape(ctx context.Context, s *snapshot) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.metrics, nil)
	if err != nil {
		return fmt.Errorf("metrics request: %w", err)
	}
	res, err := src.http.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is said once, below
		}
		return fmt.Errorf("scrape %s: %w", src.metrics, &UnreachableError{Node: src.node.node.Address, Err: err})
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: %s", src.metrics, res.Status)
	}
	return parseMetrics(res.Body, s)
}

// waiting counts the dead letters still holding their aggregate back:
// dead or parked (replayed and skipped ones are done).
func waiting(letters []*messages.DeadLetter) int {
	n := 0
	for _, l := range letters {
		switch l.GetState() {
		case messages.DeadLetterState_DEAD_LETTER_STATE_DEAD, messages.DeadLetterState_DEAD_LETTER_STATE_PARKED:
			n++
		}
	}
	return n
}

// topView is one refresh as shown, and as printed with -o json. Values
// are null when the refresh failed (error says why).
type topView struct {
	Time            time.Time `json:"time"`
	IntervalSeconds float64   `json:"interval_seconds"`
	PublishedPerSec *float64  `json:"published_per_sec"`
	EventsPerSec    *float64  `json:"events_per_sec"`
	CommandsPerSec  *float64  `json:"commands_per_sec"`
	RejectedPerSec  *float64  `json:"rejected_per_sec"`
	LagSeconds      *float64  `json:"lag_seconds"`
	Breaker         string    `json:"breaker"`
	DLQWaiting      *int      `json:"dlq_waiting"`
	DLQEnteredTotal *float64  `json:"dlq_entered_total"`
	Error           string    `json:"error,omitempty"`
}

// rates turns two snapshots into a view: per-second rates of the counters
// over the time between them, and the gauges as cur read them.
func rates(prev, cur snapshot) topView {
	elapsed := cur.at.Sub(prev.at).Seconds()
	rate := func(p, c float64) *float64 {
		d := c - p
		if d < 0 { // the node restarted and its counters began again from 0
			d = c
		}
		r := 0.0
		if elapsed > 0 {
			r = d / elapsed
		}
		return &r
	}
	return topView{
		Time:            cur.at,
		IntervalSeconds: elapsed,
		PublishedPerSec: rate(prev.published, cur.published),
		EventsPerSec:    rate(prev.events, cur.events),
		CommandsPerSec:  rate(prev.commands, cur.commands),
		RejectedPerSec:  rate(prev.rejected, cur.rejected),
		LagSeconds:      cur.lag,
		Breaker:         cur.breaker,
		DLQWaiting:      &cur.dlqWaiting,
		DLQEnteredTotal: &cur.dlqEntered,
	}
}
