package harness

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/scylla"
)

// Node is a running outbox-node process.
type Node struct {
	// Remote is the address outboxctl uses (--remote-addr).
	Remote string
	// Metrics is the host:port of /metrics and /health.
	Metrics string
	// CQL is the store address (embedded miniscylla or --scylla-hosts).
	CQL string
	// Kafka is the broker address (embedded minikafka or --kafka-brokers).
	Kafka string
	// Keyspace holds the node's tables (--keyspace).
	Keyspace string
	DataDir  string
	// Log is everything the node wrote to stderr so far.
	Log func() string

	bins          Binaries
	topicTemplate string
	*process
	wantExit int
}

// StartNode starts outbox-node on free ports with a fresh data directory
// and waits until it serves /health (the last step of its start-up). extra flags are appended (and win,
// flag parsing keeps the last value). With OUTBOX_TEST_SCYLLA/OUTBOX_TEST_KAFKA
// set the node uses those services (migrating a keyspace of its own, with
// topics of its own and the node's cluster confidence window) and the test
// fails if it still started an embedded server. The node is stopped at
// cleanup, and the test fails unless it then exits 0.
func StartNode(t testing.TB, bins Binaries, extra ...string) *Node {
	t.Helper()
	LogSubstrate(t)
	n := &Node{
		Remote:        FreeAddr(t),
		Metrics:       FreeAddr(t),
		CQL:           FreeAddr(t),
		Kafka:         FreeAddr(t),
		Keyspace:      config.Default().Scylla.Keyspace,
		DataDir:       t.TempDir(),
		bins:          bins,
		topicTemplate: config.Default().Relay.TopicTemplate,
	}
	args := append([]string{
		"--remote-addr", n.Remote, "--metrics-addr", n.Metrics, "--data-dir", n.DataDir,
		"--log-level", "info",
	}, SubstrateFlags(t, n.CQL, n.Kafka)...)
	if External() {
		keyspace, prefix := namesFor(t)
		n.Keyspace, n.topicTemplate = keyspace, prefix+n.topicTemplate
	}
	n.CQL = cmp.Or(ExternalScylla(), n.CQL)
	n.Kafka = cmp.Or(ExternalKafka(), n.Kafka)
	extra = slices.Clone(extra)
	for i, a := range extra {
		if i+1 == len(extra) {
			break
		}
		switch a {
		case "--scylla-hosts":
			n.CQL = extra[i+1]
		case "--kafka-brokers":
			n.Kafka = extra[i+1]
		case "--keyspace":
			n.Keyspace = extra[i+1]
		case "--topic-template":
			if External() {
				// A test's own template still gets the test's prefix.
				_, prefix := namesFor(t)
				extra[i+1] = prefix + extra[i+1]
			}
			n.topicTemplate = extra[i+1]
		case "--data-dir":
			n.DataDir = extra[i+1]
		}
	}
	args = append(args, extra...)
	log := &SyncBuffer{}
	n.Log = log.String
	cmd := exec.Command(bins.Node, args...)
	cmd.Stderr = log
	cmd.Stdout = log
	n.process = startProcess(t, "outbox-node", cmd)
	t.Cleanup(func() {
		if code := n.Stop(t); code != n.wantExit {
			t.Errorf("outbox-node exited %d, want %d; log:\n%s", code, n.wantExit, n.Log())
		}
	})
	n.waitReady(t, 60*time.Second)
	n.checkSubstrate(t)
	return n
}

// SubstrateFlags are the outbox-node flags choosing t's store and broker:
// the embedded ones on cqlAddr and kafkaAddr, or with OUTBOX_TEST_SCYLLA/
// OUTBOX_TEST_KAFKA set the external services, with the test's keyspace and
// topic prefix and --migrate, for tests that run the binary themselves.
func SubstrateFlags(t testing.TB, cqlAddr, kafkaAddr string) []string {
	args := []string{"--embedded-cql-addr", cqlAddr, "--embedded-kafka-addr", kafkaAddr}
	if External() {
		keyspace, prefix := namesFor(t)
		args = append(args, "--keyspace", keyspace, "--topic-template", prefix+config.Default().Relay.TopicTemplate, "--migrate")
	}
	if addr := ExternalScylla(); addr != "" {
		args = append(args, "--scylla-hosts", addr)
	}
	if addr := ExternalKafka(); addr != "" {
		args = append(args, "--kafka-brokers", addr)
	}
	return args
}

// Embedded start lines the node logs (cmd/outbox-node) before it serves
// /health; with an external service set, its line must be absent.
const (
	embeddedStoreLine  = "embedded mode: ScyllaDB emulator"
	embeddedBrokerLine = "embedded mode: in-process Kafka broker"
)

func (n *Node) checkSubstrate(t testing.TB) {
	t.Helper()
	log := n.Log()
	if ExternalScylla() != "" && strings.Contains(log, embeddedStoreLine) {
		t.Fatalf("%s is set but the node started its embedded store; log:\n%s", EnvScylla, log)
	}
	if ExternalKafka() != "" && strings.Contains(log, embeddedBrokerLine) {
		t.Fatalf("%s is set but the node started its embedded broker; log:\n%s", EnvKafka, log)
	}
}

// Topic is the Kafka topic this node publishes eventType's events to: its
// --topic-template (per test on external services) filled in as the relay
// does, every event's aggregate type being "order".
func (n *Node) Topic(eventType string) string {
	return strings.NewReplacer("{{event_type}}", eventType, "{{aggregate_type}}", "order").Replace(n.topicTemplate)
}

func (n *Node) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, func() error {
		select {
		case <-n.done:
			t.Fatalf("outbox-node exited during start-up (%v); log:\n%s", n.err, n.Log())
		default:
		}
		resp, err := http.Get("http://" + n.Metrics + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

// Stop sends SIGTERM and returns the exit code; it kills the process and
// fails the test when it has not exited within 40 s. Stopping twice is fine.
func (n *Node) Stop(t testing.TB) int {
	t.Helper()
	return n.signal(t, syscall.SIGTERM, 40*time.Second, n.Log)
}

// StopWithin sends SIGTERM and waits up to timeout for the exit. It
// returns the exit code and whether the node exited by itself in time; a
// node still running then is killed. Unlike Stop it leaves the verdict to
// the caller: the cleanup no longer checks the exit code.
func (n *Node) StopWithin(timeout time.Duration) (code int, exited bool) {
	code, exited = n.signalWithin(syscall.SIGTERM, timeout)
	n.wantExit = code
	return code, exited
}

// Kill ends the process with SIGKILL (a crash: no shutdown runs) and
// waits for it; the cleanup then expects no exit code.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill outbox-node: %v", err)
	}
	<-n.done
	n.wantExit = -1
}

// ExpectExit sets the exit code the cleanup expects (default 0), for tests
// that make the node fail.
func (n *Node) ExpectExit(code int) { n.wantExit = code }

// Exited returns a channel closed when the process has exited.
func (n *Node) Exited() <-chan struct{} { return n.done }

// ExitCode is the exit code once Exited is closed.
func (n *Node) ExitCode() int { return n.cmd.ProcessState.ExitCode() }

// Ctl runs outboxctl against this node.
func (n *Node) Ctl(t testing.TB, args ...string) Result {
	t.Helper()
	return Ctl(t, n.bins, n.Remote, args...)
}

// Session opens a gocqlx session to the node's store, closed at cleanup.
func (n *Node) Session(t testing.TB) gocqlx.Session {
	t.Helper()
	cfg := config.Default().Scylla
	cfg.Consistency = "ONE"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := scylla.Connect(ctx, cfg, []string{n.CQL}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect to the node's store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// HTTPGet fetches path from the node's metrics server.
func (n *Node) HTTPGet(t testing.TB, path string) (string, int) {
	t.Helper()
	resp, err := http.Get("http://" + n.Metrics + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b), resp.StatusCode
}

// StartDevstack runs cmd/devstack on free ports, with extra flags
// appended, and returns its CQL and Kafka addresses; it is stopped at
// cleanup. With OUTBOX_TEST_SCYLLA/OUTBOX_TEST_KAFKA set it starts nothing
// and returns those addresses; extra flags then cannot apply, so a test
// passing them must be EmbeddedOnly.
func StartDevstack(t testing.TB, bins Binaries, extra ...string) (cql, kafka string) {
	t.Helper()
	LogSubstrate(t)
	if External() {
		if len(extra) > 0 {
			t.Fatalf("StartDevstack %v on external services: the flags cannot apply; mark the test EmbeddedOnly", extra)
		}
		if ExternalScylla() == "" || ExternalKafka() == "" {
			t.Fatalf("StartDevstack on external services needs both %s and %s", EnvScylla, EnvKafka)
		}
		return ExternalScylla(), ExternalKafka()
	}
	d := RunDevstack(t, bins, append([]string{"--embedded-cql-addr", FreeAddr(t), "--embedded-kafka-addr", FreeAddr(t), "--log-level", "warn"}, extra...)...)
	return d.CQL, d.Kafka
}
