package e2e

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/infra/gogc"
	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/test/harness"
)

// TestMetricsAndHealth checks /metrics carries the documented series,
// /health answers 200 with every component, and `outboxctl health` agrees.
func TestMetricsAndHealth(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)
	mustAccept(t, node, "order", "create", "--customer", "heidi", "--amount", "7.00")
	if r := node.Ctl(t, "order", "cancel", uuid.NewString()); r.Code != 1 {
		t.Fatalf("cancel of an unknown order: exit %d", r.Code)
	}

	body, code := node.HTTPGet(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`outbox_commands_total{result="accepted",type="create"} 1`,
		`outbox_commands_total{result="not_found",type="cancel"} 1`,
		"cdc_events_processed_total",
		"dlq_messages_total",
		"circuit_breaker_state",
		"# TYPE outbox_commit_to_publish_seconds histogram",
		"go_goroutines",
		"go_gc_gogc_percent " + wantGOGC(),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	body, code = node.HTTPGet(t, "/health")
	h := decodeJSON[metrics.Health](t, body)
	if code != 200 || h.Status != metrics.StatusOK {
		t.Fatalf("/health %d: %s", code, body)
	}
	for _, c := range []string{"scylla", "kafka", "breaker"} {
		if h.Components[c].Status != metrics.StatusOK {
			t.Errorf("/health component %s = %+v", c, h.Components[c])
		}
	}

	cli := decodeJSON[metrics.Health](t, mustAccept(t, node, "health", "-o", "json"))
	if cli.Status != h.Status || len(cli.Components) != len(h.Components) {
		t.Fatalf("outboxctl health %+v disagrees with /health %+v", cli, h)
	}
	for name, c := range h.Components {
		if cli.Components[name].Status != c.Status {
			t.Errorf("component %s: outboxctl %q, /health %q", name, cli.Components[name].Status, c.Status)
		}
	}
	text := mustAccept(t, node, "health")
	if !strings.Contains(text, "scylla") || !strings.HasPrefix(text, "status       ok\n") {
		t.Errorf("outboxctl health text:\n%s", text)
	}
}

// TestGracefulShutdown checks SIGTERM stops the node with exit 0 well
// within --shutdown-timeout, in the documented order.
func TestGracefulShutdown(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins, "--shutdown-timeout", "20s")
	mustAccept(t, node, "order", "create", "--customer", "ivan", "--amount", "1.00")
	start := time.Now()
	if code := node.Stop(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM; log:\n%s", code, node.Log())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("shutdown took %s", d)
	}
	log := node.Log()
	for _, want := range []string{"signal received", "msg=stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, tail(log, 20))
		}
	}
	if r := node.Ctl(t, "--timeout", "1s", "health"); r.Code != 3 {
		t.Errorf("outboxctl after shutdown: exit %d, want 3 (unreachable)", r.Code)
	}
	// Every actor of the tree is observed, the relay's included.
	sup, err := os.ReadFile(filepath.Join(node.DataDir, "supervision.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, actor := range []string{"coordinator/orders", "coordinator/dlq", "coordinator/cdcstream", "coordinator/cdcstream/publisher"} {
		if !strings.Contains(string(sup), `"actor":"`+actor+`","event":"started"`) {
			t.Errorf("supervision.log lacks the start of %s:\n%s", actor, sup)
		}
	}
}

// TestNodeCommandLine covers the schema subcommand and bad flags.
func TestNodeCommandLine(t *testing.T) {
	bins := harness.Build(t)
	out, err := exec.Command(bins.Node, "schema", "--keyspace", "shop", "--outbox-ttl", "1h").Output()
	if err != nil {
		t.Fatalf("outbox-node schema: %v", err)
	}
	for _, want := range []string{"CREATE KEYSPACE IF NOT EXISTS shop", "shop.outbox_messages", "'ttl': 3600", "shop.dead_letter_queue"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("schema output lacks %q:\n%s", want, out)
		}
	}
	for _, args := range [][]string{
		{"--keyspace", "Bad-Name"},
		{"--remote-addr", "nowhere"},
		{"--no-such-flag"},
		{"--publish-linger", "0s"},
		{"--publish-drain-timeout", "1m", "--shutdown-timeout", "30s"},
	} {
		cmd := exec.Command(bins.Node, args...)
		b, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); err == nil || code != 2 {
			t.Errorf("outbox-node %v: exit %d, want 2; output:\n%s", args, code, b)
		}
	}
}

// TestBusyPortFailsStart checks a taken --remote-addr or --metrics-addr
// stops start-up at once with exit 1 and a reason that names the flag to
// change, and that no hint to connect to the node is printed.
func TestBusyPortFailsStart(t *testing.T) {
	bins := harness.Build(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, flag := range []string{"--remote-addr", "--metrics-addr"} {
		args := append([]string{"--remote-addr", harness.FreeAddr(t), "--metrics-addr", harness.FreeAddr(t)},
			harness.SubstrateFlags(t, "127.0.0.1:0", "127.0.0.1:0")...)
		args = append(args, "--data-dir", t.TempDir(), flag, busy.Addr().String())
		out, err := exec.Command(bins.Node, args...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "address already in use (change "+flag+")") {
			t.Errorf("%s busy: %v\n%s", flag, err, tail(string(out), 5))
		}
		if strings.Contains(string(out), "try:") || strings.Contains(string(out), "node ready") {
			t.Errorf("%s busy: hints printed for a start that failed:\n%s", flag, out)
		}
	}
}

// wantGOGC is the collector target a node started by the tests runs with:
// the tests' GOGC, which the node keeps, or gogc.Default.
func wantGOGC() string {
	switch v := os.Getenv("GOGC"); v {
	case "":
		return strconv.Itoa(gogc.Default)
	case "off":
		return "-1"
	default:
		return v
	}
}
