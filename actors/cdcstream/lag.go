package cdcstream

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/messages"
)

// LagQuery asks the stream actor for a *LagReport (local only).
type LagQuery struct{}

// LagReport is the stream's lag as of its last tick.
type LagReport struct {
	// Max is the largest lag over the streams, of Stream.
	Max    time.Duration
	Stream string
	// Threshold is LagShare of the CDC log TTL; Degraded is Max > Threshold.
	Threshold time.Duration
	Degraded  bool
	// TimeLeft is how long until the oldest unacknowledged event expires
	// from the CDC log.
	TimeLeft time.Duration
	// ReaderError is set while a failed reader waits to be restarted.
	ReaderError string
	// ReadError is set while the running reader's queries (or the lag
	// probe's) fail: the reader retries, events wait unread.
	ReadError string
}

// warnEvery spaces the lag warnings while the stream stays degraded.
const warnEvery = time.Minute

// lagGuard exports per-stream lag and raises the lag alarm.
type lagGuard struct {
	cfg     Config
	log     *slog.Logger
	metrics Metrics

	last     LagReport
	warnedAt time.Time
}

func (g *lagGuard) check(now time.Time, lags map[string]time.Duration, readErr error) {
	r := LagReport{Threshold: g.cfg.threshold()}
	if readErr != nil {
		r.ReadError = readErr.Error()
	}
	for stream, lag := range lags {
		g.metrics.CDCLag(stream, lag)
		if lag > r.Max {
			r.Max, r.Stream = lag, stream
		}
	}
	r.Degraded = r.Max > r.Threshold
	r.TimeLeft = max(g.cfg.LogTTL-r.Max, 0)
	switch {
	case r.Degraded && (!g.last.Degraded || now.Sub(g.warnedAt) >= warnEvery):
		g.warnedAt = now
		g.log.Warn("cdc lag above threshold: unpublished events expire from the CDC log when the lag reaches its TTL",
			slog.Duration("lag", r.Max), slog.String("stream", r.Stream), slog.Duration("threshold", r.Threshold),
			slog.Duration("time_left", r.TimeLeft))
	case !r.Degraded && g.last.Degraded:
		g.log.Info("cdc lag back under threshold", slog.Duration("lag", r.Max))
	}
	switch {
	case r.ReadError != "" && g.last.ReadError == "":
		g.log.Warn("cdc log reads failing: committed events wait unread", slog.String("reason", r.ReadError), slog.Duration("lag", r.Max))
	case r.ReadError == "" && g.last.ReadError != "":
		g.log.Info("cdc log reads succeed again", slog.Duration("lag", r.Max))
	}
	g.last = r
}

func (g *lagGuard) report() *LagReport {
	r := g.last
	if r.Threshold == 0 {
		r.Threshold = g.cfg.threshold()
		r.TimeLeft = g.cfg.LogTTL
	}
	return &r
}

// Probe reports the stream's lag to the Health actor (it satisfies
// actors/health.Probe): ok under the threshold, degraded above it, while
// the reader waits to restart or while its reads fail (with the reason),
// down when the stream does not answer.
type Probe struct {
	Root *actor.RootContext
	PID  *actor.PID
}

// Name implements health.Probe.
func (Probe) Name() string { return "cdc" }

// Check implements health.Probe.
func (p Probe) Check(ctx context.Context) (messages.HealthStatus, string) {
	timeout := 2 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	res, err := p.Root.RequestFuture(p.PID, &LagQuery{}, timeout).Result()
	if err != nil {
		return messages.HealthStatus_HEALTH_STATUS_DOWN, fmt.Sprintf("cdc stream: %v", err)
	}
	r, ok := res.(*LagReport)
	if !ok {
		return messages.HealthStatus_HEALTH_STATUS_DOWN, fmt.Sprintf("cdc stream: unexpected reply %T", res)
	}
	detail := fmt.Sprintf("lag %s (threshold %s, %s left)", r.Max.Round(time.Millisecond), r.Threshold, r.TimeLeft.Round(time.Second))
	switch {
	case r.ReaderError != "":
		return messages.HealthStatus_HEALTH_STATUS_DEGRADED, "reader restarting: " + r.ReaderError + "; " + detail
	case r.ReadError != "":
		return messages.HealthStatus_HEALTH_STATUS_DEGRADED, "reads failing: " + r.ReadError + "; " + detail
	case r.Degraded:
		return messages.HealthStatus_HEALTH_STATUS_DEGRADED, detail
	}
	return messages.HealthStatus_HEALTH_STATUS_OK, detail
}
