package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/test/harness"
)

// TestActorPanicIsRestarted injects a panic into the orders actor and
// checks the one-for-one restart is logged, served by `outboxctl events`,
// counted in /metrics, and that the node keeps serving.
func TestActorPanicIsRestarted(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins, "--enable-fault-injection")
	before := mustAccept(t, node, "order", "create", "--customer", "frank", "--amount", "3.00")
	follower := harness.Follow(t, bins, node.Remote, "events", "--follow")
	harness.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(follower.Output(), "coordinator/orders started") {
			return fmt.Errorf("events --follow printed:\n%s", follower.Output())
		}
		return nil
	})

	if out := mustAccept(t, node, "fault", "inject", "orders"); !strings.Contains(out, "orders") {
		t.Fatalf("fault inject printed %q", out)
	}

	harness.Eventually(t, 10*time.Second, func() error {
		b, err := os.ReadFile(filepath.Join(node.DataDir, "supervision.log"))
		if err != nil {
			return err
		}
		if !hasRestart(string(b)) {
			return fmt.Errorf("no restart of coordinator/orders in supervision.log:\n%s", b)
		}
		return nil
	})
	harness.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(follower.Output(), "coordinator/orders restarted directive=restart") {
			return fmt.Errorf("events --follow has not shown the restart:\n%s", follower.Output())
		}
		return nil
	})
	if code := follower.Interrupt(t); code != 0 {
		t.Errorf("events --follow exited %d on SIGINT", code)
	}
	events := mustAccept(t, node, "events", "-o", "json")
	if !hasRestart(events) {
		t.Fatalf("outboxctl events lacks the restart:\n%s", events)
	}
	for _, line := range strings.Split(events, "\n") {
		decodeJSON[map[string]any](t, line)
	}
	recent := mustAccept(t, node, "events", "--since", "1m")
	if !strings.Contains(recent, "coordinator/orders") {
		t.Fatalf("events --since 1m lacks the restart:\n%s", recent)
	}

	metrics, _ := node.HTTPGet(t, "/metrics")
	if !strings.Contains(metrics, `actor_restarts_total{actor="coordinator/orders"} 1`) {
		t.Errorf("/metrics lacks the restart count:\n%s", grepLines(metrics, "actor_restarts"))
	}

	// The restarted actor serves old and new orders.
	mustAccept(t, node, "order", "update", before, "--amount", "4.00")
	mustAccept(t, node, "order", "create", "--customer", "grace", "--amount", "5.00")
}

// hasRestart reports whether log (JSON lines) records a restart directive
// for the orders actor.
func hasRestart(log string) bool {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"coordinator/orders"`) && strings.Contains(line, `"restart"`) {
			return true
		}
	}
	return false
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRestartBudgetExceededStopsNode makes the orders actor fail more often
// than --restart-budget allows: the node must stop on its own, non-zero.
func TestRestartBudgetExceededStopsNode(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins, "--enable-fault-injection", "--restart-budget", "1", "--restart-window", "1m")
	node.ExpectExit(1)
	mustAccept(t, node, "fault", "inject", "orders")
	harness.Eventually(t, 10*time.Second, func() error {
		if !hasRestart(mustAccept(t, node, "events", "-o", "json")) {
			return fmt.Errorf("first fault not restarted yet")
		}
		return nil
	})
	// The node may stop before the confirmation reaches us: 0 or 3 (unreachable).
	if r := node.Ctl(t, "--timeout", "2s", "fault", "inject", "orders"); r.Code != 0 && r.Code != 3 {
		t.Fatalf("second fault: exit %d: %s", r.Code, r.Stderr)
	}
	select {
	case <-node.Exited():
	case <-time.After(30 * time.Second):
		t.Fatalf("node still running after the budget was exceeded; log:\n%s", tail(node.Log(), 20))
	}
	if code := node.ExitCode(); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if log := node.Log(); !strings.Contains(log, "restart budget exhausted") {
		t.Errorf("log does not name the cause:\n%s", tail(log, 20))
	}
}
