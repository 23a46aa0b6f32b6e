package durability_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/test/harness"
)

// mountTmpfs mounts a tmpfs of size bytes on dir, unmounted at cleanup.
// It needs root and mount(8): without them the test fails.
func mountTmpfs(t *testing.T, size int, dir string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a %d byte tmpfs on %s (the disk-full test needs root and mount): %v\n%s", size, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
}

// fillUpTo writes a ballast file in dir that leaves about free bytes.
func fillUpTo(t *testing.T, dir string, free int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	avail := int64(st.Bavail) * st.Bsize
	if avail <= free {
		t.Fatalf("only %d bytes free on %s", avail, dir)
	}
	path := filepath.Join(dir, "ballast")
	if err := os.WriteFile(path, make([]byte, avail-free), 0o644); err != nil {
		t.Fatalf("write ballast: %v", err)
	}
	return path
}

var fullValue = strings.Repeat("v", 1000)

func writeFull(s gocqlx.Session, id int) error {
	return s.Query(`INSERT INTO dur.items (id, v) VALUES (?, ?)`, nil).Bind(id, fmt.Sprint(id, fullValue)).ExecRelease()
}

// checkRows reads the table back: every acknowledged id with its value,
// none of the failed ones.
func checkRows(t *testing.T, s gocqlx.Session, acked, failed []int) {
	t.Helper()
	got := stored(t, s)
	for _, id := range acked {
		if got[id] != fmt.Sprint(id, fullValue) {
			t.Fatalf("acknowledged row %d: stored %.20q", id, got[id])
		}
	}
	for _, id := range failed {
		if _, ok := got[id]; ok {
			t.Fatalf("row %d is stored although its write failed", id)
		}
	}
}

// TestDiskFullWritesFailThenResume runs devstack on a tmpfs that a ballast
// file nearly fills: writes then fail with "no space left on device" and
// are not applied, while reads go on; once the ballast is deleted, writes
// succeed again without a restart, and after a kill -9 every acknowledged
// row, and none of the failed ones, is there.
func TestDiskFullWritesFailThenResume(t *testing.T) {
	harness.EmbeddedOnly(t, "it fills the disk under a devstack's write-ahead log")
	dir := t.TempDir()
	mountTmpfs(t, 4<<20, dir)
	data := filepath.Join(dir, "data")
	srv := startDevstack(t, data)
	s := srv.session(t)
	createSchema(t, s)
	ballast := fillUpTo(t, dir, 256<<10)

	var acked, failed []int
	id := 0
	for ; len(failed) < 5; id++ {
		if id > 5000 {
			t.Fatalf("writes still succeed after %d rows on a full disk", len(acked))
		}
		err := writeFull(s, id)
		switch {
		case err == nil:
			acked = append(acked, id)
		case strings.Contains(err.Error(), "no space left on device"):
			failed = append(failed, id)
		default:
			t.Fatalf("write %d failed without naming the full disk: %v", id, err)
		}
	}
	t.Logf("disk full after %d acknowledged rows; %d writes failed", len(acked), len(failed))
	// Reads of acknowledged rows go on; a read that looks at a failed
	// write's row fails until the store dropped it, soon after.
	var v string
	if err := s.Query(`SELECT v FROM dur.items WHERE id = ?`, nil).Bind(acked[0]).Scan(&v); err != nil || v != fmt.Sprint(acked[0], fullValue) {
		t.Fatalf("read of an acknowledged row on the full disk: %.20q, %v", v, err)
	}
	harness.Eventually(t, time.Minute, func() error {
		return s.Query(`SELECT id, v FROM dur.items`, nil).Exec()
	})
	checkRows(t, s, acked, failed)

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, time.Minute, func() error {
		err := writeFull(s, id)
		if err != nil {
			failed = append(failed, id)
		} else {
			acked = append(acked, id)
		}
		id++
		return err
	})
	for range 50 {
		if err := writeFull(s, id); err != nil {
			t.Fatalf("write %d after space came back: %v", id, err)
		}
		acked = append(acked, id)
		id++
	}
	checkRows(t, s, acked, failed)
	if log := srv.Log(); !strings.Contains(log, "wal: reset after a failed write") {
		t.Errorf("the server did not log the reset:\n%s", log)
	}

	srv.Kill(t)
	srv = startDevstack(t, data)
	checkRows(t, srv.session(t), acked, failed)
}
