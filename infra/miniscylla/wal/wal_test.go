package wal

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// collect opens dir and returns the replayed payloads and the log.
func collect(t testing.TB, dir string, logger *slog.Logger) ([]string, *Log) {
	t.Helper()
	var got []string
	l, err := Open(dir, Options{Logger: logger}, func(p []byte) error {
		got = append(got, string(p))
		return nil
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return got, l
}

func appendAll(t testing.TB, l *Log, recs ...string) {
	t.Helper()
	for _, r := range recs {
		if err := l.Append([]byte(r)); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func TestReopenReplaysInOrder(t *testing.T) {
	dir := t.TempDir()
	got, l := collect(t, dir, nil)
	if len(got) != 0 {
		t.Fatalf("new log replayed %q", got)
	}
	appendAll(t, l, "one", "", "three")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, l = collect(t, dir, nil)
	defer l.Close()
	appendAll(t, l, "four")
	// No Close, as after a crash: the records are on disk once Sync returned.
	crashed := t.TempDir()
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crashed, FileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	got2, l2 := collect(t, crashed, nil)
	defer l2.Close()
	if want := []string{"one", "", "three"}; !equal(got, want) {
		t.Errorf("first reopen replayed %q, want %q", got, want)
	}
	if want := []string{"one", "", "three", "four"}; !equal(got2, want) {
		t.Errorf("second reopen replayed %q, want %q", got2, want)
	}
}

func equal(a, b []string) bool {
	return len(a) == len(b) && strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

func TestTornTailIsCutAndLogged(t *testing.T) {
	cases := []struct {
		name   string
		damage func(b []byte) []byte
		reason string
	}{
		{"truncated payload", func(b []byte) []byte { return b[:len(b)-3] }, "short record"},
		{"truncated header", func(b []byte) []byte { return b[:len(b)-len("last")-headerSize+5] }, "short header"},
		{"flipped bit", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, "checksum mismatch"},
		{"garbage length", func(b []byte) []byte {
			return append(b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)
		}, "above the limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, l := collect(t, dir, nil)
			appendAll(t, l, "first", "second", "last")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, FileName)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			got, l := collect(t, dir, slog.New(slog.NewTextHandler(&logs, nil)))
			want := []string{"first", "second"}
			if tc.name == "garbage length" {
				want = append(want, "last")
			}
			if !equal(got, want) {
				t.Errorf("replayed %q, want %q", got, want)
			}
			if !strings.Contains(logs.String(), "cutting torn or corrupt tail") || !strings.Contains(logs.String(), tc.reason) {
				t.Errorf("log %q does not report the cut (%s)", logs.String(), tc.reason)
			}
			// New records go after the cut, and a reopen sees them cleanly.
			appendAll(t, l, "after")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			logs.Reset()
			got, l = collect(t, dir, slog.New(slog.NewTextHandler(&logs, nil)))
			defer l.Close()
			if want = append(want, "after"); !equal(got, want) {
				t.Errorf("after the cut replayed %q, want %q", got, want)
			}
			if strings.Contains(logs.String(), "cutting") {
				t.Errorf("second reopen cut again: %s", logs.String())
			}
		})
	}
}

func TestConcurrentAppendsAllDurable(t *testing.T) {
	dir := t.TempDir()
	_, l := collect(t, dir, nil)
	const writers, each = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := l.Append(fmt.Appendf(nil, "w%d-%d", w, i)); err != nil {
					errs <- err
					return
				}
				if err := l.Sync(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, l2 := collect(t, dir, nil)
	defer l2.Close()
	if len(got) != writers*each {
		t.Fatalf("replayed %d records, want %d", len(got), writers*each)
	}
	// Each writer's records keep their order.
	next := map[string]int{}
	for _, r := range got {
		var w, i int
		if _, err := fmt.Sscanf(r, "w%d-%d", &w, &i); err != nil {
			t.Fatalf("record %q: %v", r, err)
		}
		key := fmt.Sprint(w)
		if i != next[key] {
			t.Fatalf("writer %d: record %d after %d", w, i, next[key]-1)
		}
		next[key]++
	}
}

func TestReplayErrorAbortsOpen(t *testing.T) {
	dir := t.TempDir()
	_, l := collect(t, dir, nil)
	appendAll(t, l, "bad")
	l.Close()
	boom := errors.New("boom")
	_, err := Open(dir, Options{}, func([]byte) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Open = %v, want the replay error", err)
	}
}

func TestAppendErrors(t *testing.T) {
	_, l := collect(t, t.TempDir(), nil)
	var tooLarge *RecordTooLargeError
	if err := l.Append(make([]byte, MaxRecordSize+1)); !errors.As(err, &tooLarge) {
		t.Errorf("oversized Append = %v, want *RecordTooLargeError", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestOpenOnAFileFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file, Options{}, func([]byte) error { return nil }); err == nil {
		t.Fatal("Open on a regular file succeeded")
	}
}

func BenchmarkAppendSync(b *testing.B) {
	_, l := collect(b, b.TempDir(), nil)
	defer l.Close()
	rec := bytes.Repeat([]byte("x"), 200)
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Append(rec); err != nil {
				b.Error(err)
				return
			}
			if err := l.Sync(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestRewriteReplacesTheLog(t *testing.T) {
	dir := t.TempDir()
	_, l := collect(t, dir, nil)
	appendAll(t, l, "a", "b", "c")
	// Appended, not yet synced: the checkpoint covers it.
	if err := l.Append([]byte("d")); err != nil {
		t.Fatal(err)
	}
	if err := l.Rewrite(func(emit func([]byte) error) error { return emit([]byte("abcd")) }); err != nil {
		t.Fatalf("Rewrite: %v", err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if got, want := l.Size(), int64(headerSize+4); got != want {
		t.Errorf("Size after rewrite = %d, want %d", got, want)
	}
	appendAll(t, l, "e")
	if _, err := os.Stat(filepath.Join(dir, FileName+".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, l2 := collect(t, dir, nil)
	defer l2.Close()
	if want := []string{"abcd", "e"}; !equal(got, want) {
		t.Errorf("replayed %q, want %q", got, want)
	}
}

func TestFailedRewriteKeepsTheLog(t *testing.T) {
	dir := t.TempDir()
	_, l := collect(t, dir, nil)
	appendAll(t, l, "a")
	if err := l.Append([]byte("b")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := l.Rewrite(func(emit func([]byte) error) error {
		if err := emit([]byte("partial")); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Rewrite = %v, want the write error", err)
	}
	appendAll(t, l, "c")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, l2 := collect(t, dir, nil)
	defer l2.Close()
	if want := []string{"a", "b", "c"}; !equal(got, want) {
		t.Errorf("replayed %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName+".tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestStaleCheckpointIsRemoved(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, FileName+".tmp")
	if err := os.WriteFile(tmp, []byte("half a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, l := collect(t, dir, nil)
	defer l.Close()
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale checkpoint still there: %v", err)
	}
}

// TestSyncToCountsRecords: Appended numbers the records, SyncTo(n) writes
// and fsyncs up to record n, and a number beyond the last record means
// every record so far instead of a wait that cannot end.
func TestSyncToCountsRecords(t *testing.T) {
	dir := t.TempDir()
	_, l := collect(t, dir, nil)
	defer l.Close()
	appendAll(t, l, "a", "b")
	if err := l.Append([]byte("c")); err != nil {
		t.Fatal(err)
	}
	if n := l.Appended(); n != 3 {
		t.Fatalf("Appended = %d, want 3", n)
	}
	if err := l.SyncTo(3); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * (headerSize + 1); len(data) != want {
		t.Fatalf("after SyncTo(3) the file holds %d bytes, want %d", len(data), want)
	}
	if err := l.Append([]byte("d")); err != nil {
		t.Fatal(err)
	}
	if err := l.SyncTo(1000); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, FileName)); len(data) != 4*(headerSize+1) {
		t.Fatalf("after SyncTo(1000) the file holds %d bytes, want every record", len(data))
	}
}
