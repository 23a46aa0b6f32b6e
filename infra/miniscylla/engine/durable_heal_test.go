//go:build linux

package engine

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"

	"github.com/outboxnode/outbox/infra/miniscylla/wal"
	"github.com/outboxnode/outbox/internal/poll"
)

// limitFileSize caps the size of files this process writes, as a full disk
// would (writes past it fail with EFBIG), until the returned func lifts it.
func limitFileSize(t *testing.T, size uint64) func() {
	t.Helper()
	signal.Ignore(syscall.SIGXFSZ) // the write fails instead of the process dying
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: size, Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	lift := func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(lift)
	return lift
}

// TestFailedLogWriteIsNotAppliedAndWritesResume: a write the log cannot
// take fails with a server error and is not applied (its row never shows,
// nor its CDC log row); reads of durable rows go on; once the log can grow
// again, writes and LWTs succeed without a restart, and a restart sees
// exactly the acknowledged writes.
func TestFailedLogWriteIsNotAppliedAndWritesResume(t *testing.T) {
	dir := t.TempDir()
	e := openDurableEngine(t, dir, &fakeClock{now: time.Now()})
	sess := &Session{}
	mustRun(t, e, sess, durableWorkload[:4]...) // keyspace, USE, tables kv and events (CDC)
	mustRun(t, e, sess, `INSERT INTO kv (k, v) VALUES ('before', 'x')`, `INSERT INTO events (agg, seq, body) VALUES (1, 1, 'before')`)
	cdcRows := len(selectRows(t, e, `SELECT * FROM ks.events_scylla_cdc_log`))
	fi, err := os.Stat(filepath.Join(dir, wal.FileName))
	if err != nil {
		t.Fatal(err)
	}

	lift := limitFileSize(t, uint64(fi.Size())+10)
	res := query(e, sess, `INSERT INTO events (agg, seq, body) VALUES (1, 2, 'failed')`)
	se, ok := res.(*message.ServerError)
	if !ok || !strings.Contains(se.ErrorMessage, "file too large") || !strings.Contains(se.ErrorMessage, "not applied") {
		t.Fatalf("write past the limit answered %v, want a server error naming the failure", res)
	}
	if rows := selectRows(t, e, `SELECT v FROM ks.kv WHERE k = 'before'`); len(rows) != 1 {
		t.Fatalf("read of a durable row on a failed log: %v", rows)
	}
	waitHealed := func(what string) {
		t.Helper()
		poll.Eventually(t, 30*time.Second, func() error {
			res := query(e, sess, `SELECT body FROM events WHERE agg = 1`)
			rows, ok := res.(*message.RowsResult)
			if !ok {
				return fmt.Errorf("%s: read still fails: %v", what, res)
			}
			if len(rows.Data) != 1 {
				t.Fatalf("%s: events hold %d rows, want only the acknowledged one", what, len(rows.Data))
			}
			return nil
		})
	}
	waitHealed("disk still full")
	if res := query(e, sess, `INSERT INTO kv (k, v) VALUES ('refused', 'x')`); !isError(res) {
		t.Fatalf("write on a still full disk answered %v", res)
	}

	lift()
	poll.Eventually(t, 30*time.Second, poll.True("writes to succeed after the limit was lifted", func() bool {
		return !isError(query(e, sess, `INSERT INTO kv (k, v) VALUES ('after', 'x')`))
	}))
	waitHealed("after the heal")
	if rows := selectRows(t, e, `SELECT * FROM ks.events_scylla_cdc_log`); len(rows) != cdcRows {
		t.Fatalf("CDC log holds %d rows, want the acknowledged write's %d", len(rows), cdcRows)
	}
	res = query(e, sess, `INSERT INTO kv (k, v) VALUES ('lwt', 'x') IF NOT EXISTS`)
	if rows, ok := res.(*message.RowsResult); !ok || len(rows.Data) != 1 || rows.Data[0][0][0] != 1 {
		t.Fatalf("LWT after the heal: %v", res)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e = openDurableEngine(t, dir, &fakeClock{now: time.Now()})
	defer e.Close()
	got := map[string]bool{}
	for _, r := range selectRows(t, e, `SELECT k FROM ks.kv`) {
		got[string(r[0])] = true
	}
	for _, k := range []string{"before", "after", "lwt"} {
		if !got[k] {
			t.Errorf("acknowledged row %q missing after a restart (have %v)", k, got)
		}
	}
	if got["refused"] {
		t.Error("a refused write is back after a restart")
	}
	if rows := selectRows(t, e, `SELECT body FROM ks.events WHERE agg = 1`); len(rows) != 1 {
		t.Errorf("events after a restart: %d rows, want 1", len(rows))
	}
}
