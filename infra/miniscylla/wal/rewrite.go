package wal

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Size is the log's length in bytes, records appended but not yet written
// included.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Rewrite replaces the log with the records write emits: a checkpoint that
// stands for everything appended before the call. The caller must keep
// further Appends out while it runs (the engine holds its write lock) so
// that the new records describe exactly that state.
//
// It is crash-safe: the records go to a temporary file, which is fsynced,
// renamed over the log, and the directory fsynced; a crash at any point
// leaves either the old log or the new one. On success every record
// appended before the call counts as durable. On failure the old log stays
// in use, unchanged, and nothing is lost.
func (l *Log) Rewrite(write func(emit func(payload []byte) error) error) error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.err != nil {
		defer l.mu.Unlock()
		return l.err
	}
	covered, target := len(l.buf), l.appended
	l.mu.Unlock()

	tmp := l.path + ".tmp"
	f, size, err := writeTemp(tmp, write)
	if err == nil {
		if err = os.Rename(tmp, l.path); err != nil {
			err = errors.Join(err, f.Close(), os.Remove(tmp))
		}
	}
	if err != nil {
		return fmt.Errorf("wal: rewrite: %w", err)
	}
	old := l.f
	// From the rename on, the new file is the log: records not covered go
	// there, and if its directory entry cannot be made durable the log fails.
	dirErr := syncDir(filepath.Dir(l.path))
	l.mu.Lock()
	l.f = f
	l.buf = append([]byte(nil), l.buf[covered:]...)
	l.size = size + int64(len(l.buf))
	l.good = size
	if dirErr != nil {
		l.fail(fmt.Errorf("wal: rewrite: checkpoint not durable: %w", dirErr))
	} else {
		l.durable = max(l.durable, target)
	}
	l.synced.Broadcast()
	l.mu.Unlock()
	if err := old.Close(); err != nil {
		l.log.Warn("wal: close replaced log", "err", err)
	}
	if dirErr != nil {
		return l.err
	}
	l.log.Info("wal: checkpoint written", "file", l.path, "bytes", size)
	return nil
}

// writeTemp writes the checkpoint to tmp and fsyncs it; it returns the
// file, locked and positioned at its end.
func writeTemp(tmp string, write func(emit func([]byte) error) error) (f *os.File, size int64, err error) {
	f, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, f.Close(), os.Remove(tmp))
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	var rec []byte
	err = write(func(payload []byte) error {
		if len(payload) > MaxRecordSize {
			return &RecordTooLargeError{Size: len(payload)}
		}
		rec = AppendRecord(rec[:0], payload)
		size += int64(len(rec))
		_, err := w.Write(rec)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if err = w.Flush(); err != nil {
		return nil, 0, err
	}
	if err = f.Sync(); err != nil {
		return nil, 0, err
	}
	if err = lockFile(f); err != nil {
		return nil, 0, err
	}
	return f, size, nil
}
