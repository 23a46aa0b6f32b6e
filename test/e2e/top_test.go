package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// topRefresh is one `outboxctl top -o json` line, the fields the test reads.
type topRefresh struct {
	PublishedPerSec *float64 `json:"published_per_sec"`
	EventsPerSec    *float64 `json:"events_per_sec"`
	CommandsPerSec  *float64 `json:"commands_per_sec"`
	RejectedPerSec  *float64 `json:"rejected_per_sec"`
	LagSeconds      *float64 `json:"lag_seconds"`
	Breaker         string   `json:"breaker"`
	DLQWaiting      *int     `json:"dlq_waiting"`
	DLQEnteredTotal *float64 `json:"dlq_entered_total"`
	Error           string   `json:"error"`
}

// decodeRefreshes parses JSON lines, failing the test on any line that is
// not a refresh with every field the documentation promises.
func decodeRefreshes(t *testing.T, out string) []topRefresh {
	t.Helper()
	var rs []topRefresh
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var doc map[string]any
		if err := json.Unmarshal([]byte(line), &doc); err != nil {
			t.Fatalf("top line %q: %v", line, err)
		}
		for _, k := range []string{"time", "interval_seconds", "published_per_sec", "events_per_sec", "commands_per_sec",
			"rejected_per_sec", "lag_seconds", "breaker", "dlq_waiting", "dlq_entered_total"} {
			if _, ok := doc[k]; !ok {
				t.Fatalf("top line %q lacks %q", line, k)
			}
		}
		var r topRefresh
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("top line %q: %v", line, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// TestTopLiveView runs `outboxctl top --count 3 -o json` against a node
// while orders are created one after another until it exits, and checks
// the refreshes: three of them, exit 0, every field present, commands
// counted, the breaker closed, a lag and an empty DLQ. The 2 s interval
// leaves room on a loaded machine for an order to complete inside the
// 6 s the refreshes span.
func TestTopLiveView(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)
	metricsURL := "http://" + node.Metrics + "/metrics"

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.Ctl, "--remote-addr", node.Remote, "--timeout", "30s",
		"top", "--metrics", metricsURL, "--count", "3", "--interval", "2s", "-o", "json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start outboxctl top: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	sent := 0
send:
	for {
		select {
		case err = <-done:
			break send
		default:
		}
		mustAccept(t, node, "order", "create", "--customer", "top-watcher", "--amount", "3.00")
		sent++
	}
	if err != nil {
		t.Fatalf("outboxctl top: %v\nstderr: %s\nstdout: %s", err, stderr.String(), stdout.String())
	}
	rs := decodeRefreshes(t, stdout.String())
	if len(rs) != 3 {
		t.Fatalf("%d refreshes, want 3:\n%s", len(rs), stdout.String())
	}
	counted, lagSeen := false, false
	for i, r := range rs {
		if r.Error != "" || r.CommandsPerSec == nil || r.PublishedPerSec == nil || r.EventsPerSec == nil || r.DLQWaiting == nil {
			t.Fatalf("refresh %d failed or incomplete: %+v", i, r)
		}
		if *r.CommandsPerSec < 0 || *r.PublishedPerSec < 0 || *r.EventsPerSec < 0 || *r.RejectedPerSec != 0 {
			t.Errorf("refresh %d rates: %+v", i, r)
		}
		if r.Breaker != "closed" || *r.DLQWaiting != 0 || *r.DLQEnteredTotal != 0 {
			t.Errorf("refresh %d: breaker %q, dlq waiting %d, entered %g; want closed, 0, 0", i, r.Breaker, *r.DLQWaiting, *r.DLQEnteredTotal)
		}
		if r.LagSeconds != nil {
			lagSeen = true
			if *r.LagSeconds < 0 {
				t.Errorf("refresh %d: lag %g s", i, *r.LagSeconds)
			}
		}
		counted = counted || *r.CommandsPerSec > 0
	}
	if !counted {
		t.Errorf("no refresh counted commands while %d were sent:\n%s", sent, stdout.String())
	}
	if !lagSeen {
		t.Errorf("no refresh reported a CDC lag:\n%s", stdout.String())
	}
}

// TestTopFollowsPublishingAndStopsOnInterrupt watches a node until a
// refresh shows events published to Kafka, then interrupts top: exit 0.
// Without -o json and without a terminal it prints one plain line per
// refresh.
func TestTopFollowsPublishingAndStopsOnInterrupt(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)
	f := harness.Follow(t, bins, node.Remote, "top", "--metrics", "http://"+node.Metrics+"/metrics", "--interval", "500ms")
	harness.Eventually(t, 90*time.Second, func() error {
		mustAccept(t, node, "order", "create", "--customer", "top-follower", "--amount", "4.00")
		for _, line := range strings.Split(f.Output(), "\n") {
			if strings.Contains(line, " published=") && !strings.Contains(line, " published=0.0/s") {
				return nil
			}
		}
		return fmt.Errorf("no refresh shows events published yet:\n%s", f.Output())
	})
	if code := f.Interrupt(t); code != 0 {
		t.Fatalf("top interrupted: exit %d, want 0\n%s", code, f.Output())
	}
	if out := f.Output(); strings.Contains(out, "\x1b") || !strings.Contains(out, "breaker=closed") {
		t.Fatalf("plain output has escape codes or no breaker state:\n%s", out)
	}
}

// TestTopDLQWaitingAndDeadMetrics seeds two dead letters and skips one:
// top counts the one still dead as waiting (dlq_entered_total stays 0,
// the publisher wrote neither). With a dead --metrics URL top refuses to
// start, exit 3.
func TestTopDLQWaitingAndDeadMetrics(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)
	dead, skipped := deadLetter(t, node), deadLetter(t, node)
	if err := scylla.NewDLQStore(node.Session(t), node.Keyspace).Put(t.Context(), []*messages.DeadLetter{dead, skipped}); err != nil {
		t.Fatalf("seed dead letters: %v", err)
	}
	mustAccept(t, node, "dlq", "skip", skipped.GetEvent().GetEventId())
	rs := decodeRefreshes(t, mustAccept(t, node, "top", "--metrics", "http://"+node.Metrics+"/metrics", "--count", "1", "-o", "json"))
	if len(rs) != 1 || rs[0].DLQWaiting == nil || *rs[0].DLQWaiting != 1 || *rs[0].DLQEnteredTotal != 0 {
		t.Fatalf("refreshes %+v, want one with 1 dead letter waiting and none entered", rs)
	}

	r := node.Ctl(t, "top", "--metrics", "http://"+harness.FreeAddr(t)+"/metrics", "--count", "1")
	if r.Code != 3 || !strings.Contains(r.Stderr, "unreachable") || r.Stdout != "" {
		t.Fatalf("top with a dead --metrics: exit %d, stdout %q, stderr %q; want exit 3 and unreachable", r.Code, r.Stdout, r.Stderr)
	}
}
