package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/outboxnode/outbox/infra/resilience"
	"github.com/outboxnode/outbox/messages"
)

func TestMetricsRecord(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m.CommandHandled("create", "accepted")
	m.CommandHandled("create", "accepted")
	m.ActorRestarted("orders")
	m.CDCEventProcessed()
	m.DeadLettered()
	m.OnRetry("publish")
	m.OnStateChange(resilience.StateHalfOpen)
	now := time.Now()
	m.Published(now.Add(-20*time.Millisecond), now)
	m.CDCLag("s1", 3*time.Second)
	m.RemoteRejected("target")
	m.Limits(24*time.Hour, 10, time.Minute)
	m.ShardHeld(3, true)
	m.ShardLag(3, 1500*time.Millisecond)
	m.ShardEventProcessed(3)
	m.ShardEventProcessed(3)

	if got := testutil.ToFloat64(m.commands.WithLabelValues("create", "accepted")); got != 2 {
		t.Errorf("commands = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.breakerState); got != 2 {
		t.Errorf("breaker = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.cdcLag.WithLabelValues("s1")); got != 3 {
		t.Errorf("lag = %v, want 3", got)
	}
	if ttl, budget, window := testutil.ToFloat64(m.cdcTTL), testutil.ToFloat64(m.restartBudget), testutil.ToFloat64(m.restartWindow); ttl != 86400 || budget != 10 || window != 60 {
		t.Errorf("limits = ttl %v, budget %v, window %v; want 86400, 10, 60", ttl, budget, window)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, want := range []string{
		"outbox_commands_total", "actor_restarts_total", "cdc_events_processed_total", "retry_attempts_total",
		"dlq_messages_total", "circuit_breaker_state", "outbox_commit_to_publish_seconds", "cdc_lag_seconds",
		"remote_rejected_total", "outbox_cdc_ttl_seconds", "actor_restart_budget", "actor_restart_window_seconds",
		"outbox_shard_held", "outbox_shard_lag_seconds", "outbox_shard_events_processed_total",
	} {
		if !names[want] {
			t.Errorf("series %s not exported", want)
		}
	}
	if _, err := New(reg); err == nil {
		t.Error("registering twice on one registry succeeded")
	}
}

func TestShardSeriesFollowTheLease(t *testing.T) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m.ShardHeld(3, true)
	m.ShardLag(3, 1500*time.Millisecond)
	m.ShardEventProcessed(3)
	m.ShardEventProcessed(3)
	if held, lag, events := testutil.ToFloat64(m.shardHeld.WithLabelValues("3")), testutil.ToFloat64(m.shardLag.WithLabelValues("3")),
		testutil.ToFloat64(m.shardEvents.WithLabelValues("3")); held != 1 || lag != 1.5 || events != 2 {
		t.Errorf("shard 3 held: held %v, lag %v, events %v; want 1, 1.5, 2", held, lag, events)
	}
	m.ShardHeld(3, false)
	if held := testutil.ToFloat64(m.shardHeld.WithLabelValues("3")); held != 0 {
		t.Errorf("shard 3 given up: held %v, want 0", held)
	}
	if n := testutil.CollectAndCount(m.shardLag); n != 0 {
		t.Errorf("shard 3 given up: %d lag series left, want none (its new owner reports it)", n)
	}
	if events := testutil.ToFloat64(m.shardEvents.WithLabelValues("3")); events != 2 {
		t.Errorf("shard 3 given up: events %v, want 2 (a counter never goes back)", events)
	}
}

func TestServer(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m.CommandHandled("cancel", "not_found")

	var report *messages.HealthReport
	var reportErr error
	source := func(ctx context.Context) (*messages.HealthReport, error) { return report, reportErr }
	srv := NewServer("127.0.0.1:0", reg, source, time.Second, slog.New(slog.DiscardHandler))
	if err := srv.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	base := "http://" + srv.Addr()

	body, code := get(t, base+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `outbox_commands_total{result="not_found",type="cancel"} 1`) {
		t.Errorf("/metrics %d:\n%s", code, body)
	}

	tests := []struct {
		name       string
		report     *messages.HealthReport
		err        error
		wantCode   int
		wantStatus string
	}{
		{"ok", healthReport(messages.HealthStatus_HEALTH_STATUS_OK), nil, 200, "ok"},
		{"degraded", healthReport(messages.HealthStatus_HEALTH_STATUS_DEGRADED), nil, 503, "degraded"},
		{"down", healthReport(messages.HealthStatus_HEALTH_STATUS_DOWN), nil, 503, "down"},
		{"unreachable", nil, errors.New("health actor: timeout"), 503, "down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report, reportErr = tt.report, tt.err
			body, code := get(t, base+"/health")
			if code != tt.wantCode {
				t.Fatalf("code = %d, want %d", code, tt.wantCode)
			}
			var h Health
			if err := json.Unmarshal([]byte(body), &h); err != nil {
				t.Fatalf("decode %q: %v", body, err)
			}
			if h.Status != tt.wantStatus {
				t.Fatalf("status = %q, want %q", h.Status, tt.wantStatus)
			}
			if tt.report != nil && h.Components["scylla"].Status != tt.wantStatus {
				t.Fatalf("components = %+v", h.Components)
			}
			if tt.err != nil && !strings.Contains(h.Error, "timeout") {
				t.Fatalf("error = %q", h.Error)
			}
		})
	}
}

func TestServerBusyPort(t *testing.T) {
	reg := prometheus.NewRegistry()
	first := NewServer("127.0.0.1:0", reg, nil, time.Second, slog.New(slog.DiscardHandler))
	if err := first.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = first.Shutdown(context.Background()) })
	if err := NewServer(first.Addr(), reg, nil, time.Second, slog.New(slog.DiscardHandler)).Start(); err == nil {
		t.Fatal("second server on a busy port started")
	}
}

func healthReport(s messages.HealthStatus) *messages.HealthReport {
	return &messages.HealthReport{Status: s, Components: []*messages.Component{{Name: "scylla", Status: s, Detail: "probe"}}}
}

func get(t *testing.T, url string) (string, int) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return string(b), resp.StatusCode
}

func TestServerListenWithoutServe(t *testing.T) {
	srv := NewServer("127.0.0.1:0", prometheus.NewRegistry(), nil, time.Second, slog.New(slog.DiscardHandler))
	if err := srv.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	addr := srv.Addr()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	again := NewServer(addr, prometheus.NewRegistry(), nil, time.Second, slog.New(slog.DiscardHandler))
	if err := again.Listen(); err != nil {
		t.Fatalf("address not released by Shutdown: %v", err)
	}
	_ = again.Shutdown(context.Background())
}

// TestServerPprof: /debug/pprof/ is served only after ServePprof (--pprof).
func TestServerPprof(t *testing.T) {
	for _, on := range []bool{false, true} {
		srv := NewServer("127.0.0.1:0", prometheus.NewRegistry(), nil, time.Second, slog.New(slog.DiscardHandler))
		if on {
			srv.ServePprof()
		}
		if err := srv.Start(); err != nil {
			t.Fatalf("Start: %v", err)
		}
		resp, err := http.Get("http://" + srv.Addr() + "/debug/pprof/cmdline")
		if err != nil {
			t.Fatalf("GET /debug/pprof/cmdline: %v", err)
		}
		_ = resp.Body.Close()
		if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]; resp.StatusCode != want {
			t.Errorf("pprof %v: GET /debug/pprof/cmdline = %d, want %d", on, resp.StatusCode, want)
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	}
}
