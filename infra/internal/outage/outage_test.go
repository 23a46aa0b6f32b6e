package outage

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/logtest"
	"github.com/outboxnode/outbox/messages"
)

func TestLostAndBackAreLoggedOnceEach(t *testing.T) {
	rec, log := logtest.New()
	tr := New("kafka", log)
	clock := time.Date(2026, 1, 2, 12, 0, 3, 0, time.UTC)
	tr.now = func() time.Time { return clock }
	if s, _ := tr.Check(context.Background()); s != messages.HealthStatus_HEALTH_STATUS_DOWN {
		t.Errorf("before any outcome: %v, want down", s)
	}
	tr.OK()
	refused := errors.Join(errors.New("out of brokers"), errors.New("connection refused"))
	tr.Fail(refused)
	clock = clock.Add(2 * time.Second)
	tr.Fail(errors.New("later failure"))
	if s, detail := tr.Check(context.Background()); s != messages.HealthStatus_HEALTH_STATUS_DOWN || detail != "unreachable since 12:00:03: out of brokers; connection refused" {
		t.Errorf("while lost: %v %q", s, detail)
	}
	clock = clock.Add(3 * time.Second)
	tr.OK()
	tr.OK()
	if got, want := rec.Messages(slog.LevelDebug), []string{"kafka unreachable", "kafka reachable"}; !slices.Equal(got, want) {
		t.Fatalf("logged %q, want %q", got, want)
	}
	lines := rec.Lines()
	if lines[0].Level != slog.LevelWarn || lines[0].Attrs["err"].Any() != refused {
		t.Errorf("lost line %+v: want WARN with the first failure", lines[0])
	}
	if lines[1].Level != slog.LevelInfo || lines[1].Attrs["unreachable_for"].Duration() != 5*time.Second {
		t.Errorf("back line %+v: want INFO unreachable_for=5s", lines[1])
	}
	if s, _ := tr.Check(context.Background()); s != messages.HealthStatus_HEALTH_STATUS_OK {
		t.Errorf("after back: %v, want ok", s)
	}
}

func TestWatchRecordsEachCheck(t *testing.T) {
	rec, log := logtest.New()
	tr := New("scylla", log)
	results := []error{nil, errors.New("timeout"), errors.New("timeout"), nil}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	tr.Watch(ctx, time.Millisecond, func(context.Context) error {
		err := results[calls]
		calls++
		if calls == len(results) {
			cancel()
		}
		return err
	})
	if got, want := rec.Messages(slog.LevelDebug), []string{"scylla unreachable", "scylla reachable"}; !slices.Equal(got, want) {
		t.Fatalf("logged %q, want %q", got, want)
	}
}
