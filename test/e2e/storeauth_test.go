package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/infra/tlsfiles/tlstest"
	"github.com/outboxnode/outbox/test/harness"
)

// TestNodeWithStoreAuthAndTLS runs the node against a devstack whose CQL
// port requires a login and mutual TLS: with the right password (from a
// file) an order commits and its event reaches Kafka; with a wrong one
// (from OUTBOX_SCYLLA_PASSWORD) the node fails start-up with exit 1 and
// the server's reason, and neither run prints a password.
func TestNodeWithStoreAuthAndTLS(t *testing.T) {
	harness.EmbeddedOnly(t, "it starts a devstack with CQL users and TLS certificates of its own")
	const (
		user     = "outbox"
		password = "Tr0ub4dor-e2e"
		wrong    = "not-the-Passw0rd"
	)
	bins := harness.Build(t)
	files := tlstest.NewPKI(t)
	pwFile := filepath.Join(t.TempDir(), "cql-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cql, kafka := harness.StartDevstack(t, bins, "--scylla-username", user, "--scylla-password-file", pwFile,
		"--embedded-cql-tls-cert", files.Server.Cert, "--embedded-cql-tls-key", files.Server.Key, "--embedded-cql-tls-client-ca", files.CA)
	store := []string{"--scylla-hosts", cql, "--kafka-brokers", kafka, "--migrate", "--scylla-username", user,
		"--scylla-tls-ca", files.CA, "--scylla-tls-cert", files.Client.Cert, "--scylla-tls-key", files.Client.Key}

	node := harness.StartNode(t, bins, append(store, "--scylla-password-file", pwFile)...)
	id := mustAccept(t, node, "order", "create", "--customer", "olga", "--amount", "4.20")
	if r := awaitRecord(t, kafka, "OrderCreated", id); !strings.Contains(r.value, id) {
		t.Fatalf("OrderCreated record %s does not carry order %s", r.value, id)
	}
	body, _ := node.HTTPGet(t, "/health")
	node.Stop(t)
	if out := node.Log() + body; strings.Contains(out, password) {
		t.Fatalf("the node printed the password:\n%s", out)
	}

	args := append([]string{"--remote-addr", harness.FreeAddr(t), "--metrics-addr", harness.FreeAddr(t),
		"--data-dir", t.TempDir(), "--scylla-connect-timeout", "5s"}, store...)
	cmd := exec.Command(bins.Node, args...)
	cmd.Env = append(os.Environ(), "OUTBOX_SCYLLA_PASSWORD="+wrong)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("node with a wrong password: %v, want exit 1; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "Username and/or password are incorrect") {
		t.Fatalf("start-up failure does not say why:\n%s", tail(string(out), 10))
	}
	if strings.Contains(string(out), wrong) {
		t.Fatalf("the node printed the password:\n%s", out)
	}
	t.Logf("refused as expected: %s", tail(strings.TrimSpace(string(out)), 1))
}

// TestEmbeddedStoreWithAuth gives an embedded-mode node a store login: its
// own miniscylla then requires it, the node works through it, and a client
// without credentials is refused.
func TestEmbeddedStoreWithAuth(t *testing.T) {
	harness.EmbeddedOnly(t, "it tests the embedded store's authentication")
	bins := harness.Build(t)
	pwFile := filepath.Join(t.TempDir(), "cql-password")
	if err := os.WriteFile(pwFile, []byte("embedded-Secret-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	node := harness.StartNode(t, bins, "--scylla-username", "app", "--scylla-password-file", pwFile)
	mustAccept(t, node, "order", "create", "--customer", "pia", "--amount", "1.50")
	cluster := miniscyllatest.Cluster(t, node.CQL)
	if sess, err := cluster.CreateSession(); err == nil {
		sess.Close()
		t.Fatal("a client without credentials connected to the embedded store")
	} else if !strings.Contains(err.Error(), "authentication required") {
		t.Fatalf("anonymous client: %v, want authentication required", err)
	}
}
