package wal

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLog writes n records of varied sizes to a new log in dir and
// returns their payloads and the offset each record starts at.
func writeLog(t *testing.T, dir string, n int) (recs []string, offs []int) {
	t.Helper()
	_, l := collect(t, dir, nil)
	off := 0
	for i := range n {
		r := fmt.Sprintf("record-%03d-%s", i, strings.Repeat("x", i%7*13))
		recs, offs = append(recs, r), append(offs, off)
		off += headerSize + len(r)
		appendAll(t, l, r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return recs, offs
}

// recordAt is the index of the record holding byte pos.
func recordAt(offs []int, pos int) int {
	i := 0
	for i+1 < len(offs) && offs[i+1] <= pos {
		i++
	}
	return i
}

func openWith(dir string, mode Recovery, logs *bytes.Buffer) ([]string, *Log, error) {
	var got []string
	l, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), Recovery: mode}, func(p []byte) error {
		got = append(got, string(p))
		return nil
	})
	return got, l, err
}

// TestMidLogDamageStrictRefusesSalvageKeeps flips one byte at several
// places before intact records: strict mode refuses, naming the file, the
// damaged record's offset and the intact records after it, and leaves the
// file alone; salvage mode replays every other record, logs the drop and
// rewrites the log so that the next strict start is clean.
func TestMidLogDamageStrictRefusesSalvageKeeps(t *testing.T) {
	const n = 100
	dir := t.TempDir()
	recs, offs := writeLog(t, dir, n)
	clean, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	size := len(clean)
	cases := []struct {
		name string
		pos  int
	}{
		{"at 10%", size / 10},
		{"at 50%", size / 2},
		{"at 90%", size * 9 / 10},
		{"in a length field", offs[40] + 3},
		{"in the high byte of a length field", offs[41]},
		{"in a payload", offs[60] + headerSize + 4},
		{"in a CRC", offs[70] + 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			damaged := bytes.Clone(clean)
			damaged[tc.pos] ^= 0x5a
			if err := os.WriteFile(path, damaged, 0o644); err != nil {
				t.Fatal(err)
			}
			bad := recordAt(offs, tc.pos)
			if bad == n-1 {
				t.Fatalf("position %d is in the last record: not mid-log damage", tc.pos)
			}

			var logs bytes.Buffer
			_, _, err := openWith(dir, RecoveryStrict, &logs)
			var de *DamageError
			if !errors.As(err, &de) {
				t.Fatalf("strict Open = %v, want *DamageError", err)
			}
			if de.Offset != int64(offs[bad]) || de.Before != bad || de.After != n-bad-1 || de.Regions != 1 {
				t.Errorf("damage reported at offset %d, %d before, %d after, %d regions; want offset %d, %d before, %d after, 1 region",
					de.Offset, de.Before, de.After, de.Regions, offs[bad], bad, n-bad-1)
			}
			if de.Length != int64(offs[bad+1]-offs[bad]) {
				t.Errorf("damaged length %d, want %d", de.Length, offs[bad+1]-offs[bad])
			}
			for _, want := range []string{path, fmt.Sprintf("byte offset %d", offs[bad]), fmt.Sprintf("%d intact records follow", n-bad-1), "--embedded-wal-recovery salvage"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, damaged) {
				t.Error("strict Open changed the damaged file")
			}

			logs.Reset()
			got, l, err := openWith(dir, RecoverySalvage, &logs)
			if err != nil {
				t.Fatalf("salvage Open: %v", err)
			}
			want := append(append([]string(nil), recs[:bad]...), recs[bad+1:]...)
			if !equal(got, want) {
				t.Errorf("salvage replayed %d records, want the %d intact ones", len(got), len(want))
			}
			for _, s := range []string{"salvage: dropped damaged record", fmt.Sprintf("offset=%d", offs[bad]), fmt.Sprintf("length=%d", offs[bad+1]-offs[bad])} {
				if !strings.Contains(logs.String(), s) {
					t.Errorf("salvage log does not say %q:\n%s", s, logs.String())
				}
			}
			appendAll(t, l, "after salvage")
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			logs.Reset()
			got, l, err = openWith(dir, RecoveryStrict, &logs)
			if err != nil {
				t.Fatalf("strict Open after salvage: %v", err)
			}
			defer l.Close()
			if want = append(want, "after salvage"); !equal(got, want) {
				t.Errorf("after salvage a strict start replayed %d records, want %d", len(got), len(want))
			}
			if strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("the salvaged log still reports damage:\n%s", logs.String())
			}
		})
	}
}

// TestSeveralDamagedRegions: every damaged region is counted, and salvage
// drops only those records.
func TestSeveralDamagedRegions(t *testing.T) {
	dir := t.TempDir()
	recs, offs := writeLog(t, dir, 20)
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[offs[3]+headerSize] ^= 1
	b[offs[11]+6] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	_, _, err = openWith(dir, "", &logs)
	var de *DamageError
	if !errors.As(err, &de) || de.Regions != 2 || de.Offset != int64(offs[3]) || de.After != 18-3 {
		t.Fatalf("default (strict) Open = %#v, want 2 regions from offset %d with 15 intact records after", err, offs[3])
	}
	got, l, err := openWith(dir, RecoverySalvage, &logs)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var want []string
	for i, r := range recs {
		if i != 3 && i != 11 {
			want = append(want, r)
		}
	}
	if !equal(got, want) {
		t.Errorf("salvage replayed %q, want %q", got, want)
	}
	if c := strings.Count(logs.String(), "salvage: dropped"); c != 2 {
		t.Errorf("salvage logged %d drops, want 2:\n%s", c, logs.String())
	}
}

// TestDamagedLastRecordIsATornTail: with no intact record after it, a
// damaged record is a torn tail in either mode.
func TestDamagedLastRecordIsATornTail(t *testing.T) {
	dir := t.TempDir()
	recs, offs := writeLog(t, dir, 10)
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[offs[9]+headerSize+2] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	got, l, err := openWith(dir, RecoveryStrict, &logs)
	if err != nil {
		t.Fatalf("strict Open of a torn tail: %v", err)
	}
	defer l.Close()
	if !equal(got, recs[:9]) || !strings.Contains(logs.String(), "cutting torn or corrupt tail") {
		t.Errorf("replayed %d records, want 9 and a cut:\n%s", len(got), logs.String())
	}
	if fi, _ := os.Stat(path); fi.Size() != int64(offs[9]) {
		t.Errorf("file is %d bytes after the cut, want %d", fi.Size(), offs[9])
	}
}

func TestParseRecovery(t *testing.T) {
	for in, want := range map[string]Recovery{"": RecoveryStrict, "strict": RecoveryStrict, "salvage": RecoverySalvage} {
		if got, err := ParseRecovery(in); err != nil || got != want {
			t.Errorf("ParseRecovery(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseRecovery("repair"); err == nil {
		t.Error("ParseRecovery accepted an unknown mode")
	}
	if _, err := Open(t.TempDir(), Options{Recovery: "repair"}, func([]byte) error { return nil }); err == nil {
		t.Error("Open accepted an unknown recovery mode")
	}
}

// TestFailedWriteIsResetWithoutRestart: a failed write fails its records
// for good and refuses appends, durable records stay readable, and after
// Reset the log takes appends again, with the lost records gone from the
// file.
func TestFailedWriteIsResetWithoutRestart(t *testing.T) {
	var logs bytes.Buffer
	dir := t.TempDir()
	_, l := collect(t, dir, slog.New(slog.NewTextHandler(&logs, nil)))
	appendAll(t, l, "ok")
	// The descriptor closing under the log stands in for a failing disk;
	// Reset opens the file again by its path.
	l.fileMu.Lock()
	l.f.Close()
	l.fileMu.Unlock()
	if err := l.Append([]byte("lost")); err != nil {
		t.Fatalf("Append before the failure is noticed: %v", err)
	}
	lost := l.Appended()
	if err := l.Sync(); err == nil {
		t.Fatal("Sync acknowledged a record that could not be written")
	}
	if err := l.Append([]byte("refused")); err == nil || l.Err() == nil {
		t.Errorf("Append on a failed log = %v, Err = %v; want the failure", err, l.Err())
	}
	if err := l.SyncTo(1); err != nil {
		t.Errorf("SyncTo of a durable record on a failed log = %v", err)
	}
	if err := l.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if l.Err() != nil {
		t.Errorf("Err after Reset = %v", l.Err())
	}
	if err := l.SyncTo(lost); err == nil {
		t.Error("the lost record counts as durable after Reset")
	}
	appendAll(t, l, "after")
	if l.Appended() <= lost {
		t.Errorf("record numbers went back after Reset: %d after %d", l.Appended(), lost)
	}
	var recs []string
	if err := l.Records(func(p []byte) error { recs = append(recs, string(p)); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ok", "after"}; !equal(recs, want) {
		t.Errorf("Records = %q, want %q", recs, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, l2 := collect(t, dir, nil)
	defer l2.Close()
	if want := []string{"ok", "after"}; !equal(got, want) {
		t.Errorf("reopen replayed %q, want %q", got, want)
	}
	for _, s := range []string{"wal: write failed", "lost_records=1", "wal: reset after a failed write"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log does not say %q:\n%s", s, logs.String())
		}
	}
}

// TestEverythingSoFarAfterResetIsDurable: right after a Reset, waiting for
// every record appended so far (by number or with Sync) succeeds, while
// the numbers of the lost records keep failing.
func TestEverythingSoFarAfterResetIsDurable(t *testing.T) {
	_, l := collect(t, t.TempDir(), nil)
	defer l.Close()
	appendAll(t, l, "ok")
	l.fileMu.Lock()
	l.f.Close()
	l.fileMu.Unlock()
	if err := l.Append([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	lost := l.Appended()
	if err := l.Sync(); err == nil {
		t.Fatal("Sync of a failed write succeeded")
	}
	if err := l.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := l.SyncTo(l.Appended()); err != nil {
		t.Errorf("SyncTo(Appended()) after Reset = %v", err)
	}
	if err := l.Sync(); err != nil {
		t.Errorf("Sync after Reset = %v", err)
	}
	if err := l.SyncTo(lost); err == nil {
		t.Error("the lost record counts as durable")
	}
}
