package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/messages"
)

func noEnv(string) string { return "" }

func TestRunSchemaAndBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"schema", "--keyspace", "shop"}, noEnv, &stdout, &stderr); code != 0 {
		t.Fatalf("schema: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "CREATE TABLE IF NOT EXISTS shop.outbox_messages") {
		t.Fatalf("schema output:\n%s", stdout.String())
	}
	for _, help := range []struct {
		args []string
		want string
	}{
		{[]string{"-h"}, "--remote-addr"},
		{[]string{"-h"}, "schema"},
		{[]string{"--help"}, "--demo"},
		{[]string{"schema", "-h"}, "print the schema CQL"},
	} {
		stdout.Reset()
		if code := run(help.args, noEnv, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), help.want) {
			t.Errorf("%v: exit %d, want 0 and usage with %q:\n%s", help.args, code, help.want, stdout.String())
		}
	}
	for _, args := range [][]string{{"--keyspace", "A-B"}, {"schema", "--replication", "simple:x"}, {"--bogus"}, {"schema", "extra"}, {"extra"}} {
		stderr.Reset()
		if code := run(args, noEnv, &stdout, &stderr); code != 2 || !strings.HasPrefix(stderr.String(), "outbox-node: ") {
			t.Errorf("%v: exit %d, want 2; stderr %s", args, code, stderr.String())
		}
	}
}

func TestActorLabel(t *testing.T) {
	tests := map[string]string{
		"coordinator/orders": "coordinator/orders",
		"coordinator/orders/0b7c3b4e-2f7e-4f0e-8d7b-3f9d9b1f6a11": "coordinator/orders/order",
		"coordinator": "coordinator",
	}
	for id, want := range tests {
		if got := actorLabel(actor.NewPID("nonhost", id)); got != want {
			t.Errorf("actorLabel(%s) = %s, want %s", id, got, want)
		}
	}
}

func TestCommandCounter(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	c := newCommandCounter(m)
	c.note(keyOf(actor.NewPID("client", "future$1")), commandType(&messages.CreateOrder{}))
	c.note(keyOf(actor.NewPID("client", "future$2")), commandType(&messages.CancelOrder{}))
	c.count(keyOf(actor.NewPID("client", "future$1")), replyResult(&messages.CommandAccepted{}))
	c.count(keyOf(actor.NewPID("client", "future$2")), replyResult(&messages.CommandRejected{Code: messages.RejectCode_REJECT_CODE_NOT_FOUND}))
	c.count(keyOf(actor.NewPID("client", "future$3")), "accepted") // not a tracked command: ignored

	want := `
# HELP outbox_commands_total Commands handled by the node, by type and result.
# TYPE outbox_commands_total counter
outbox_commands_total{result="accepted",type="create"} 1
outbox_commands_total{result="not_found",type="cancel"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "outbox_commands_total"); err != nil {
		t.Fatal(err)
	}
	if len(c.pending) != 0 {
		t.Fatalf("pending not cleared: %v", c.pending)
	}
}

func TestQuietHandlerDemotesPeerNoise(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l := protoactorLogger(base)(nil)
	l.Error("EndpointWriter lost connection", "address", "127.0.0.1:1")
	l.Info("[ACTOR] Recovering")
	l.Error("EndpointReader failed to deserialize")
	out := buf.String()
	if strings.Contains(out, "lost connection") || strings.Contains(out, "Recovering") {
		t.Fatalf("noise logged:\n%s", out)
	}
	if !strings.Contains(out, "failed to deserialize") || !strings.Contains(out, "lib=protoactor") {
		t.Fatalf("real error dropped:\n%s", out)
	}
	if !l.Handler().Enabled(context.Background(), slog.LevelError) {
		t.Fatal("errors disabled")
	}
}
