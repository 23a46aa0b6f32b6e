package durability_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/test/harness"
)

// frame is one record of a log file: its first byte and its end.
type frame struct{ off, end int }

// frames splits an intact log into its records (<len><crc><payload>).
func frames(t *testing.T, b []byte) []frame {
	t.Helper()
	var out []frame
	for off := 0; off < len(b); {
		if len(b)-off < 8 {
			t.Fatalf("log ends in a partial header at %d", off)
		}
		end := off + 8 + int(binary.BigEndian.Uint32(b[off:]))
		if end > len(b) {
			t.Fatalf("log ends in a partial record at %d", off)
		}
		out = append(out, frame{off, end})
		off = end
	}
	return out
}

var valueID = regexp.MustCompile(`value-(\d+)`)

// TestMidLogDamageThroughDevstack: devstack is killed after a workload, one
// byte in the middle of its log is flipped, and the restart refuses with
// exit status 1, naming the file, the damaged record's offset and the
// intact records after it, without touching the file. Restarted with
// --embedded-wal-recovery salvage, every acknowledged row is there except those of
// the damaged record, which the log names; the salvaged log then starts
// cleanly in strict mode.
func TestMidLogDamageThroughDevstack(t *testing.T) {
	harness.EmbeddedOnly(t, "it damages a devstack's write-ahead log")
	dir := t.TempDir()
	srv := startDevstack(t, dir)
	s := srv.session(t)
	createSchema(t, s)
	l := newLedger()
	if err := l.workload(context.Background(), s, 0, 4000); err != nil {
		t.Fatal(err)
	}
	srv.Kill(t)

	path := walPath(dir)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fs := frames(t, b)
	bad := len(fs) / 2
	for valueID.Find(b[fs[bad].off:fs[bad].end]) == nil {
		bad++ // a data record, whose rows the test can name
	}
	f := fs[bad]
	dropped := map[int]bool{}
	for _, m := range valueID.FindAllSubmatch(b[f.off+8:f.end], -1) {
		id, _ := strconv.Atoi(string(m[1]))
		dropped[id] = true
	}
	b[f.off+8+(f.end-f.off-8)/2] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, harness.Build(t).Devstack, "--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", "", "--data-dir", dir).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("strict start over the damaged log: %v, want exit status 1; output:\n%s", err, out)
	}
	for _, want := range []string{path, fmt.Sprintf("damaged at byte offset %d", f.off),
		fmt.Sprintf("%d intact records follow the damage", len(fs)-bad-1), "--embedded-wal-recovery salvage"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("refusal does not say %q:\n%s", want, out)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, b) {
		t.Error("the refused start changed the log")
	}

	srv = startDevstack(t, dir, "--embedded-wal-recovery", "salvage")
	log := srv.Log()
	for _, want := range []string{"salvage: dropped damaged record", fmt.Sprintf("offset=%d", f.off),
		fmt.Sprintf("length=%d", f.end-f.off), "dropped_records=1"} {
		if !strings.Contains(log, want) {
			t.Errorf("salvage log does not say %q:\n%s", want, log)
		}
	}
	// The read's time is taken before the read: what expired by then is gone
	// for the server too (arguments are evaluated in order, so time.Now() as
	// an argument after stored() would be later than the read).
	sess := srv.session(t)
	read := time.Now()
	l.verify(t, stored(t, sess), read, dropped)
	t.Logf("%d log records, record %d at offset %d dropped with rows %v", len(fs), bad, f.off, dropped)

	srv.Kill(t)
	srv = startDevstack(t, dir)
	if log := srv.Log(); strings.Contains(log, "damaged") || strings.Contains(log, "cutting") {
		t.Errorf("the salvaged log is not clean:\n%s", log)
	}
}
