package gogc_test

import (
	"runtime/debug"
	"testing"

	"github.com/outboxnode/outbox/infra/gogc"
)

func TestApply(t *testing.T) {
	restore := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(restore) })

	if !gogc.Apply(func(string) string { return "" }) {
		t.Fatal("no GOGC set, but Apply did not set the target")
	}
	if got := debug.SetGCPercent(100); got != gogc.Default {
		t.Fatalf("target %d, want %d", got, gogc.Default)
	}
	env := map[string]string{"GOGC": "50"}
	if gogc.Apply(func(k string) string { return env[k] }) {
		t.Fatal("GOGC set, but Apply set the target")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("target %d after Apply with GOGC set, want it left at 100", got)
	}
}
