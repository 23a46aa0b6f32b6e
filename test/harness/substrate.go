package harness

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/config"
)

// The suites run on one of two substrates: the embedded twin (miniscylla
// and minikafka, started by each node or devstack) or external services
// named by these variables. Tests that need what only the twin can do call
// EmbeddedOnly; docs/operations.md lists them.
const (
	// EnvScylla is host:port of an external CQL store (ScyllaDB or a devstack).
	EnvScylla = "OUTBOX_TEST_SCYLLA"
	// EnvKafka is host:port of an external Kafka broker.
	EnvKafka = "OUTBOX_TEST_KAFKA"
)

// ExternalScylla is the external store's address, "" for the embedded one.
func ExternalScylla() string { return os.Getenv(EnvScylla) }

// ExternalKafka is the external broker's address, "" for the embedded one.
func ExternalKafka() string { return os.Getenv(EnvKafka) }

// External reports whether either service is external.
func External() bool { return ExternalScylla() != "" || ExternalKafka() != "" }

// EmbeddedOnly skips the test, with why, when the suite runs against
// external services: the test needs a hook only the embedded twin has
// (pausing the broker, injecting store faults, reading its WAL, killing it).
func EmbeddedOnly(t testing.TB, why string) {
	t.Helper()
	if External() {
		t.Skipf("embedded substrate only (%s=%q %s=%q): %s", EnvScylla, ExternalScylla(), EnvKafka, ExternalKafka(), why)
	}
}

// StartingEmbedded fails the test when external services are set; it is
// called right before a test starts an embedded server itself (a devstack,
// an in-process miniscylla or minikafka), so that a test lacking
// EmbeddedOnly cannot pass on the twin in a run meant for real services.
func StartingEmbedded(t testing.TB, what string) {
	t.Helper()
	if External() {
		t.Fatalf("%s=%q %s=%q are set, but the test starts %s: mark it harness.EmbeddedOnly or use the external services",
			EnvScylla, ExternalScylla(), EnvKafka, ExternalKafka(), what)
	}
}

// described holds the tests that logged Describe already.
var described sync.Map // testing.TB -> struct{}

// LogSubstrate logs Describe once per test; the harness calls it when a
// test starts its first node or devstack.
func LogSubstrate(t testing.TB) {
	t.Helper()
	if _, seen := described.LoadOrStore(t, struct{}{}); !seen {
		t.Cleanup(func() { described.Delete(t) })
		t.Log(Describe())
	}
}

// Describe says in one line which substrate this run uses.
func Describe() string {
	service := func(env, addr, embedded string) string {
		if addr == "" {
			return embedded + " (embedded)"
		}
		return fmt.Sprintf("%s=%s (external)", env, addr)
	}
	return fmt.Sprintf("substrate: store %s, broker %s, test CDC readers' confidence window %s",
		service(EnvScylla, ExternalScylla(), "miniscylla"), service(EnvKafka, ExternalKafka(), "minikafka"), CDCConfidenceWindow())
}

// CDCConfidenceWindow is the window of the CDC readers a test runs itself.
// Their sessions stamp writes client-side, so on an external store it is
// the one a node picks there (a real cluster's), and on the in-process
// miniscylla the reader's own default for client timestamps on one host.
func CDCConfidenceWindow() time.Duration {
	if addr := ExternalScylla(); addr != "" {
		cfg := config.Default()
		cfg.Scylla.Hosts = []string{addr}
		return cfg.DefaultConfidenceWindow()
	}
	return cdc.DefaultConfidenceWindow
}

// maxKeyspace is the longest keyspace name the node accepts.
const maxKeyspace = 48

// UniqueNames derives from a test name a keyspace ([a-z][a-z0-9_]{0,47})
// and a topic prefix that no other test or run shares, so tests on one
// external cluster do not read each other's rows or records.
func UniqueNames(testName string) (keyspace, topicPrefix string) {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails.
	suffix := hex.EncodeToString(b)
	var sb strings.Builder
	sb.WriteString("t_")
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			sb.WriteRune(r)
		default:
			sb.WriteByte('_')
		}
	}
	base := sb.String()
	if room := maxKeyspace - len(suffix) - 1; len(base) > room {
		base = base[:room]
	}
	return base + "_" + suffix, "t" + suffix + "."
}

// testNames keeps each running test's names, so every node a test starts
// (a restart, a second node) shares its keyspace and topics.
var testNames sync.Map // testing.TB -> [2]string

// namesFor returns t's keyspace and topic prefix, made on first use.
func namesFor(t testing.TB) (keyspace, topicPrefix string) {
	if v, ok := testNames.Load(t); ok {
		n := v.([2]string)
		return n[0], n[1]
	}
	keyspace, topicPrefix = UniqueNames(t.Name())
	if v, loaded := testNames.LoadOrStore(t, [2]string{keyspace, topicPrefix}); loaded {
		n := v.([2]string)
		return n[0], n[1]
	}
	t.Cleanup(func() { testNames.Delete(t) })
	return keyspace, topicPrefix
}
