package health_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/actors/health"
	"github.com/outboxnode/outbox/messages"
)

const (
	ok       = messages.HealthStatus_HEALTH_STATUS_OK
	degraded = messages.HealthStatus_HEALTH_STATUS_DEGRADED
	down     = messages.HealthStatus_HEALTH_STATUS_DOWN
)

type probe struct {
	name   string
	status messages.HealthStatus
	detail string
	hang   bool
	panics bool
}

func (p probe) Name() string { return p.name }

func (p probe) Check(ctx context.Context) (messages.HealthStatus, string) {
	if p.panics {
		panic("probe bug")
	}
	if p.hang {
		<-ctx.Done()
	}
	return p.status, p.detail
}

func ask(t *testing.T, probes ...health.Probe) *messages.HealthReport {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	defer sys.Shutdown()
	props, err := health.Props(health.Config{Timeout: 50 * time.Millisecond}, probes...)
	if err != nil {
		t.Fatal(err)
	}
	pid := sys.Root.Spawn(props)
	defer sys.Root.Stop(pid)
	res, err := sys.Root.RequestFuture(pid, &messages.HealthQuery{}, 5*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	report, isReport := res.(*messages.HealthReport)
	if !isReport {
		t.Fatalf("got %T", res)
	}
	return report
}

func TestOverallStatusIsTheWorstComponent(t *testing.T) {
	tests := []struct {
		name   string
		probes []health.Probe
		want   messages.HealthStatus
	}{
		{"no probes", nil, ok},
		{"all ok", []health.Probe{probe{name: "scylla", status: ok}, probe{name: "kafka", status: ok}}, ok},
		{"one degraded", []health.Probe{probe{name: "scylla", status: ok}, probe{name: "breaker", status: degraded, detail: "open"}}, degraded},
		{"down beats degraded", []health.Probe{probe{name: "breaker", status: degraded}, probe{name: "scylla", status: down}}, down},
		{"optional down only degrades", []health.Probe{probe{name: "scylla", status: ok}, health.Optional(probe{name: "kafka", status: down})}, degraded},
		{"optional down with another down", []health.Probe{health.Optional(probe{name: "kafka", status: down}), probe{name: "scylla", status: down}}, down},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ask(t, tc.probes...)
			if r.GetStatus() != tc.want || len(r.GetComponents()) != len(tc.probes) || r.GetCheckedAt() == nil {
				t.Fatalf("report = %v, want status %s", r, tc.want)
			}
			for i, c := range r.GetComponents() {
				if c.GetName() != tc.probes[i].Name() {
					t.Fatalf("component %d = %q, want %q", i, c.GetName(), tc.probes[i].Name())
				}
				if want, _ := tc.probes[i].Check(context.Background()); c.GetStatus() != want {
					t.Fatalf("component %s = %s, want its own status %s", c.GetName(), c.GetStatus(), want)
				}
			}
		})
	}
}

func TestBrokenProbesReportDown(t *testing.T) {
	r := ask(t,
		probe{name: "fine", status: ok},
		probe{name: "slow", status: ok, hang: true},
		probe{name: "buggy", panics: true},
		probe{name: "silent"},
	)
	if r.GetStatus() != down {
		t.Fatalf("status = %s, want down", r.GetStatus())
	}
	wantDetail := map[string]string{"fine": "", "slow": "no answer within", "buggy": "panicked", "silent": "no status"}
	for _, c := range r.GetComponents() {
		want := wantDetail[c.GetName()]
		if want == "" {
			if c.GetStatus() != ok {
				t.Fatalf("%s = %v", c.GetName(), c)
			}
			continue
		}
		if c.GetStatus() != down || !strings.Contains(c.GetDetail(), want) {
			t.Fatalf("%s = %v, want down with %q", c.GetName(), c, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := health.Props(health.Config{Timeout: -time.Second}); err == nil {
		t.Fatal("negative timeout accepted")
	}
}
