// Package metrics is the node's observability edge: the Prometheus
// collectors every stage of the data path reports to (commands in, actor
// restarts, CDC events, publish retries, breaker state, DLQ, latency, lag)
// and the HTTP server that exposes them on /metrics next to /health.
//
// Series (the first five keep the names of the system this node replaces):
//
//	outbox_commands_total{type,result}      counter: commands by type (create|update|cancel|get) and result (accepted|rejected code, lower case)
//	actor_restarts_total{actor}             counter: one-for-one restarts by actor name
//	cdc_events_processed_total              counter: outbox events the publisher acked to the CDC stream, once per event, whatever the outcome
//	retry_attempts_total{operation}         counter: retries (not first attempts) by operation: "kafka_publish"
//	dlq_messages_total                      counter: events entering dead_letter_queue, dead or parked
//	circuit_breaker_state                   gauge: 0 closed, 1 open, 2 half-open
//	outbox_commit_to_publish_seconds        histogram: event commit time (occurred_at) to Kafka ack
//	cdc_lag_seconds{stream}                 gauge: age of the oldest committed, unacknowledged event (read or not), 0 when caught up, per CDC stream; with --source poll one stream "poll", never below --poll-safety-lag
//	remote_rejected_total{reason}           counter: remote messages and RPCs the gateway refused, by reason (infra/gateway)
//	outbox_cdc_ttl_seconds                  gauge: the outbox rows' and CDC log's TTL (--outbox-ttl), what cdc_lag_seconds must stay under
//	actor_restart_budget                    gauge: restarts one actor may have within actor_restart_window_seconds (--restart-budget)
//	actor_restart_window_seconds            gauge: the window of actor_restart_budget (--restart-window)
//	outbox_shard_held{shard}                gauge: cluster mode: 1 while this node holds the shard's lease and relays it, else 0
//	outbox_shard_lag_seconds{shard}         gauge: cluster mode: the shard's cdc_lag_seconds (oldest of its streams), only from the node holding it
//	outbox_shard_events_processed_total{shard} counter: cluster mode: cdc_events_processed_total of the shard's events on this node
//
// The last three are the node's limits, set once at start (Limits), so
// that alerts and dashboards compare lag and restarts with the node's own
// flags rather than with copies of them (infra/metrics/prometheus/rules.yml).
//
// Only the publisher counts cdc_events_processed_total: one per event it
// acks back to the stream, once Kafka acknowledged it (published), its dead
// letter is stored (dead-lettered) or it is parked behind its aggregate's
// dead letter, so the stream may checkpoint past it. A request sent again
// while the event is queued or in flight joins the first and is not
// counted twice; an event read again after a crash or restart is (the
// relay is at-least-once). The stream reports only cdc_lag_seconds.
// dlq_messages_total counts the dead-lettered and parked events among
// them; a replay that fails again does not count the entry again.
//
// Metrics is registered on a prometheus.Registerer passed in: no globals.
package metrics

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/outboxnode/outbox/infra/resilience"
)

// Metrics holds every collector of the node. Its methods are safe for
// concurrent use and never block, so actors and library callbacks may call
// them directly.
type Metrics struct {
	commands        *prometheus.CounterVec
	restarts        *prometheus.CounterVec
	cdcEvents       prometheus.Counter
	retries         *prometheus.CounterVec
	dlqMessages     prometheus.Counter
	breakerState    prometheus.Gauge
	commitToPublish prometheus.Histogram
	cdcLag          *prometheus.GaugeVec
	remoteRejected  *prometheus.CounterVec
	cdcTTL          prometheus.Gauge
	restartBudget   prometheus.Gauge
	restartWindow   prometheus.Gauge
	shardHeld       *prometheus.GaugeVec
	shardLag        *prometheus.GaugeVec
	shardEvents     *prometheus.CounterVec
}

var _ resilience.Listener = (*Metrics)(nil)

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outbox_commands_total",
			Help: "Commands handled by the node, by type and result.",
		}, []string{"type", "result"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "actor_restarts_total",
			Help: "One-for-one actor restarts, by actor.",
		}, []string{"actor"}),
		cdcEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdc_events_processed_total",
			Help: "Outbox events acked to the CDC stream (published, dead-lettered or parked), once per event.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "retry_attempts_total",
			Help: "Retries by operation (first attempts are not counted).",
		}, []string{"operation"}),
		dlqMessages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dlq_messages_total",
			Help: "Events written to the dead-letter queue, dead or parked.",
		}),
		breakerState: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "circuit_breaker_state",
			Help: "Publish circuit breaker state: 0 closed, 1 open, 2 half-open.",
		}),
		commitToPublish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "outbox_commit_to_publish_seconds",
			Help:    "Time from an event's commit to its Kafka acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		cdcLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cdc_lag_seconds",
			Help: "Age of the oldest committed event not yet acknowledged, whether the CDC reader returned it or not, 0 when caught up, per CDC stream.",
		}, []string{"stream"}),
		remoteRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "remote_rejected_total",
			Help: "Remote messages and RPCs refused by the gateway, by reason.",
		}, []string{"reason"}),
		cdcTTL: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_cdc_ttl_seconds",
			Help: "TTL of the outbox rows and their CDC log (--outbox-ttl): an event lagging longer expires unpublished.",
		}),
		restartBudget: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "actor_restart_budget",
			Help: "Restarts one actor may have within actor_restart_window_seconds before the node stops (--restart-budget).",
		}),
		restartWindow: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "actor_restart_window_seconds",
			Help: "Window of actor_restart_budget (--restart-window).",
		}),
		shardHeld: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "outbox_shard_held",
			Help: "1 while this node holds the outbox shard's lease and relays it, else 0 (cluster mode).",
		}, []string{"shard"}),
		shardLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "outbox_shard_lag_seconds",
			Help: "Age of the oldest committed, unacknowledged event of the outbox shard, reported by the node holding it (cluster mode).",
		}, []string{"shard"}),
		shardEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outbox_shard_events_processed_total",
			Help: "Events of the outbox shard acked to the CDC stream on this node (published, dead-lettered or parked; cluster mode).",
		}, []string{"shard"}),
	}
	for _, c := range []prometheus.Collector{
		m.commands, m.restarts, m.cdcEvents, m.retries, m.dlqMessages, m.breakerState, m.commitToPublish, m.cdcLag,
		m.remoteRejected, m.cdcTTL, m.restartBudget, m.restartWindow, m.shardHeld, m.shardLag, m.shardEvents,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// CommandHandled counts one command of type typ with result (e.g.
// "accepted", "invalid_argument").
func (m *Metrics) CommandHandled(typ, result string) {
	m.commands.WithLabelValues(typ, result).Inc()
}

// ActorRestarted counts one restart of actor.
func (m *Metrics) ActorRestarted(actor string) {
	m.restarts.WithLabelValues(actor).Inc()
}

// CDCEventProcessed counts one event acked to the CDC stream, whatever
// its outcome (the publisher calls it once per event).
func (m *Metrics) CDCEventProcessed() { m.cdcEvents.Inc() }

// DeadLettered counts one event written to the dead-letter queue, dead or
// parked.
func (m *Metrics) DeadLettered() { m.dlqMessages.Inc() }

// Published observes the commit-to-publish latency of one event committed
// at committedAt and acknowledged at ackedAt.
func (m *Metrics) Published(committedAt, ackedAt time.Time) {
	m.commitToPublish.Observe(ackedAt.Sub(committedAt).Seconds())
}

// CDCLag sets the lag of one CDC stream.
func (m *Metrics) CDCLag(stream string, lag time.Duration) {
	m.cdcLag.WithLabelValues(stream).Set(lag.Seconds())
}

// ShardHeld records whether this node holds shard (shardrelay.Metrics).
// A shard given up drops its lag series: its new owner reports it.
func (m *Metrics) ShardHeld(shard int, held bool) {
	label := strconv.Itoa(shard)
	if held {
		m.shardHeld.WithLabelValues(label).Set(1)
		return
	}
	m.shardHeld.WithLabelValues(label).Set(0)
	m.shardLag.DeleteLabelValues(label)
}

// ShardLag sets the lag of a shard this node holds (shardrelay.Metrics).
func (m *Metrics) ShardLag(shard int, lag time.Duration) {
	m.shardLag.WithLabelValues(strconv.Itoa(shard)).Set(lag.Seconds())
}

// ShardEventProcessed counts one of shard's events acked to the stream
// (shardrelay.Metrics).
func (m *Metrics) ShardEventProcessed(shard int) {
	m.shardEvents.WithLabelValues(strconv.Itoa(shard)).Inc()
}

// RemoteRejected counts one message or RPC the remote gateway refused.
func (m *Metrics) RemoteRejected(reason string) {
	m.remoteRejected.WithLabelValues(reason).Inc()
}

// Limits exports the node's limits that alerts compare with: the CDC log
// TTL and the restart budget with its window.
func (m *Metrics) Limits(cdcTTL time.Duration, restartBudget int, restartWindow time.Duration) {
	m.cdcTTL.Set(cdcTTL.Seconds())
	m.restartBudget.Set(float64(restartBudget))
	m.restartWindow.Set(restartWindow.Seconds())
}

// OnRetry counts one retry of operation (resilience.Listener).
func (m *Metrics) OnRetry(operation string) {
	m.retries.WithLabelValues(operation).Inc()
}

// OnStateChange records the breaker state (resilience.Listener).
func (m *Metrics) OnStateChange(state resilience.State) {
	m.breakerState.Set(float64(state))
}
