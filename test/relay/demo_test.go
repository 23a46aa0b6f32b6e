package relay

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/test/harness"
)

// TestDemoPrintsEveryRecordAndExitsZero runs `outbox-node --demo 25` on the
// embedded store and broker: it creates the orders through the command
// path, prints one line per record read back from Kafka and exits 0.
// Without --data-dir it runs on a temporary data dir and removes it: it
// leaves nothing in the working directory (no ./data) nor in TMPDIR.
func TestDemoPrintsEveryRecordAndExitsZero(t *testing.T) {
	harness.EmbeddedOnly(t, "it runs `outbox-node --demo`, the embedded quick start")
	bins := harness.Build(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.Node, "--demo", "25",
		"--remote-addr", harness.FreeAddr(t), "--metrics-addr", harness.FreeAddr(t),
		"--embedded-cql-addr", harness.FreeAddr(t), "--embedded-kafka-addr", harness.FreeAddr(t), "--log-level", "warn")
	cmd.Dir = t.TempDir()
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, dir := range []string{cmd.Dir, tmp} {
		if left, err := os.ReadDir(dir); err != nil || len(left) > 0 {
			t.Errorf("the demo left %v in %s (%v)", left, dir, err)
		}
	}
	keys := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "record ") {
			continue
		}
		if !strings.Contains(l, "topic=OrderCreated ") || !strings.Contains(l, " version=1 ") {
			t.Errorf("record line %q", l)
		}
		key, _, _ := strings.Cut(l[strings.Index(l, "key=")+len("key="):], " ")
		keys[key] = true
	}
	if len(keys) != 25 || !strings.Contains(string(out), "demo: all 25 records arrived") {
		t.Fatalf("%d distinct keys, output:\n%s", len(keys), out)
	}
}
