package hostile

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/outboxnode/outbox/infra/tlsfiles"
	"github.com/outboxnode/outbox/infra/tlsfiles/tlstest"
	"github.com/outboxnode/outbox/test/harness"
)

func tlsArgs(f tlsfiles.Files) []string {
	return []string{"--remote-tls-cert", f.Cert, "--remote-tls-key", f.Key, "--remote-tls-ca", f.CA}
}

// TestMutualTLSAndAdminRights runs a node with mutual TLS and one admin
// common name. A certificate of the node's CA works; the admin's runs DLQ
// replay/skip and fault injection; another client's certificate is refused
// those with PERMISSION_DENIED (exit 1) but may do the rest; a stranger
// CA's certificate and plaintext get nothing (exit 3) and are counted as
// refused TLS handshakes.
func TestMutualTLSAndAdminRights(t *testing.T) {
	bins := harness.Build(t)
	ca := tlstest.NewCA(t, "ops")
	nodeCert := ca.Issue(t, "node")
	admin := tlsArgs(ca.Issue(t, "ops-admin"))
	viewer := tlsArgs(ca.Issue(t, "ops-viewer"))
	stranger := tlsArgs(tlstest.NewCA(t, "stranger").Issue(t, "ops-admin"))
	node := harness.StartNode(t, bins, "--enable-fault-injection",
		"--remote-tls-cert", nodeCert.Cert, "--remote-tls-key", nodeCert.Key, "--remote-tls-ca", nodeCert.CA,
		"--remote-admin", "ops-admin,someone-else")
	ctl := func(cert []string, args ...string) harness.Result {
		return node.Ctl(t, append(append([]string{}, cert...), args...)...)
	}

	mustServe(t, node, admin...)
	// Every command outboxctl has passes the gateway for any client of the CA.
	id := mustServe(t, node, viewer...)
	for _, args := range [][]string{
		{"order", "get", id}, {"order", "update", id, "--amount", "3.00"}, {"order", "cancel", id},
		{"events", "--limit", "1"}, {"health"}, {"dlq", "list"},
	} {
		if r := ctl(viewer, args...); r.Code != 0 {
			t.Errorf("viewer %v: exit %d %s", args, r.Code, r.Stderr)
		}
	}

	for _, args := range [][]string{
		{"dlq", "skip", "00000000-0000-1000-8000-000000000000"},
		{"dlq", "replay", "--all"},
		{"fault", "inject", "health"},
	} {
		r := ctl(viewer, args...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "PERMISSION_DENIED") || !strings.Contains(r.Stderr, "admin operation") {
			t.Errorf("viewer %v: exit %d %q, want 1 and PERMISSION_DENIED", args, r.Code, r.Stderr)
		}
	}
	awaitMetric(t, node, rejectedSeries("permission_denied"), 3)

	if r := ctl(admin, "dlq", "replay", "--all"); r.Code != 0 {
		t.Errorf("admin dlq replay --all: exit %d %s", r.Code, r.Stderr)
	}
	if r := ctl(admin, "dlq", "skip", "00000000-0000-1000-8000-000000000000"); strings.Contains(r.Stderr, "PERMISSION_DENIED") {
		t.Errorf("admin dlq skip refused: %s", r.Stderr)
	}
	if r := ctl(admin, "fault", "inject", "health"); r.Code != 0 || !strings.Contains(r.Stdout, "fault injected into health") {
		t.Errorf("admin fault inject: exit %d %q %s", r.Code, r.Stdout, r.Stderr)
	}

	r := ctl(stranger, "order", "create", "--customer", "eve", "--amount", "1.00")
	if r.Code != 3 || !strings.Contains(r.Stderr, "certificate") {
		t.Errorf("stranger's certificate: exit %d %q, want 3 and a certificate error", r.Code, r.Stderr)
	}
	r = ctl(nil, "--timeout", "3s", "order", "create", "--customer", "eve", "--amount", "1.00")
	if r.Code != 3 {
		t.Errorf("plaintext client: exit %d %q, want 3", r.Code, r.Stderr)
	}
	// The node counted the refused handshakes it never let reach the gateway.
	awaitMetricWhere(t, node, rejectedSeries("tls"), ">= 2", func(v float64) bool { return v >= 2 })
	r = ctl(viewer[:4], "health")
	if r.Code != 2 || !strings.Contains(r.Stderr, "go together") && !strings.Contains(r.Stderr, "TLS needs") {
		t.Errorf("cert without CA: exit %d %q, want a usage error", r.Code, r.Stderr)
	}
	if log := node.Log(); strings.Contains(log, "BEGIN") || strings.Contains(log, "PRIVATE KEY") {
		t.Errorf("node log shows key material")
	}
	mustServe(t, node, admin...)
}

// TestTLSMisconfigurationFailsStart: incomplete TLS flags are a usage error
// (exit 2), unreadable files fail start-up (exit 1) naming the file, and
// no key material is printed.
func TestTLSMisconfigurationFailsStart(t *testing.T) {
	bins := harness.Build(t)
	files := tlstest.NewCA(t, "ops").Issue(t, "node")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--remote-tls-cert", files.Cert}, 2, "go together"},
		{[]string{"--remote-admin", "ops"}, 2, "admin subjects need TLS"},
		{[]string{"--remote-tls-cert", files.Cert, "--remote-tls-key", files.Cert, "--remote-tls-ca", files.CA}, 1, "load TLS key pair " + files.Cert},
		{[]string{"--remote-tls-cert", files.Cert, "--remote-tls-key", files.Key, "--remote-tls-ca", files.Key}, 1, "no PEM certificate"},
	} {
		args := append([]string{
			"--remote-addr", harness.FreeAddr(t), "--metrics-addr", harness.FreeAddr(t), "--data-dir", t.TempDir(),
			"--embedded-cql-addr", harness.FreeAddr(t), "--embedded-kafka-addr", harness.FreeAddr(t),
		}, tc.args...)
		cmd := exec.Command(bins.Node, args...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("outbox-node %v: exit %d, want %d and %q; output:\n%s", tc.args, code, tc.code, tc.want, out)
		}
		if strings.Contains(string(out), "PRIVATE KEY") || strings.Contains(string(out), "BEGIN") {
			t.Errorf("outbox-node %v printed key material:\n%s", tc.args, out)
		}
	}
}
