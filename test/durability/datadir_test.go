package durability_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/test/harness"
)

// runFailing runs devstack over dataDir and expects it to exit non-zero
// before it is ready; it returns what it wrote to stderr.
func runFailing(t *testing.T, dataDir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Build(t).Devstack, "--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", "", "--data-dir", dataDir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("devstack over %s: err %v, want a non-zero exit; output:\n%s", dataDir, err, out)
	}
	if strings.Contains(string(out), "devstack ready") {
		t.Errorf("devstack reported ready before failing:\n%s", out)
	}
	return string(out)
}

func TestDataDirProblemsStopTheStart(t *testing.T) {
	harness.EmbeddedOnly(t, "it breaks a devstack's data directory")
	t.Run("a regular file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out := runFailing(t, file); !strings.Contains(out, "create data dir") {
			t.Errorf("error does not name the data dir problem:\n%s", out)
		}
	})
	t.Run("in use by another devstack", func(t *testing.T) {
		dir := t.TempDir()
		startDevstack(t, dir)
		if out := runFailing(t, dir); !strings.Contains(out, "in use by another server") {
			t.Errorf("error does not say the log is in use:\n%s", out)
		}
	})
	t.Run("a corrupt record in the middle", func(t *testing.T) {
		dir := t.TempDir()
		srv := startDevstack(t, dir)
		s := srv.session(t)
		createSchema(t, s)
		for id := range 3 {
			if err := write(context.Background(), s, id, plain); err != nil {
				t.Fatal(err)
			}
		}
		srv.Kill(t)
		// Flip a byte inside an early record: as intact records follow
		// it, the start is refused rather than the log cut there.
		path := walPath(dir)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[20] ^= 0xff
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if out := runFailing(t, dir); !strings.Contains(out, "is damaged at byte offset") || !strings.Contains(out, "--embedded-wal-recovery salvage") {
			t.Errorf("start did not refuse the damaged log:\n%s", out)
		}
	})
}
