// Package wal is miniscylla's write-ahead log: the engine appends one record
// per atomic write (and per schema change) before it acknowledges the
// client, and replays the records at start-up. It sits between the engine's
// apply step and the disk: engine -> Append (memory) -> group commit
// (write + fsync) -> Sync returns -> client acknowledged.
//
// A log is one file of records, each framed as
//
//	<length uint32 BE><crc32c uint32 BE><payload>
//
// where the CRC (Castagnoli) covers the length bytes and the payload. Open
// reads every intact record and cuts the file at the first record that is
// short, oversized or fails its checksum (a torn write from a crash), logging
// what it dropped; nothing after a bad record is ever replayed.
//
// Group commit: Append only copies the record into a buffer; one flusher
// goroutine writes the buffer and fsyncs it, so one fsync covers every
// record appended while the previous one ran. Sync blocks until the records
// appended before it are on disk.
//
// Rewrite replaces the whole log with a checkpoint (rewrite.go), written to
// a temporary file, fsynced and renamed into place.
package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// FileName is the log file's name inside the data directory.
const FileName = "miniscylla.wal"

// MaxRecordSize bounds one record's payload; a larger length in a header
// can only come from corruption.
const MaxRecordSize = 256 << 20

const headerSize = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrLocked is returned by Open when another open Log holds the file.
var ErrLocked = errors.New("wal: log is in use by another server")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("wal: closed")

// RecordTooLargeError reports an Append of a payload above MaxRecordSize.
type RecordTooLargeError struct{ Size int }

func (e *RecordTooLargeError) Error() string {
	return fmt.Sprintf("wal: record of %d bytes exceeds the %d byte limit", e.Size, MaxRecordSize)
}

// Log is an open write-ahead log. Append, Sync and Close are safe for
// concurrent use.
type Log struct {
	f    *os.File
	path string
	log  *slog.Logger

	// fileMu is held while the file is written: by the flusher for one
	// round, by Rewrite while it replaces the file. It is taken before mu.
	fileMu sync.Mutex

	mu       sync.Mutex
	synced   *sync.Cond // broadcast when durable or err changes
	buf      []byte     // records appended but not yet handed to the flusher
	appended uint64     // records appended so far
	durable  uint64     // records written and fsynced
	size     int64      // bytes in the file plus bytes in buf
	err      error      // sticky: after a failed write or fsync nothing is acknowledged
	closed   bool

	kick chan struct{} // wakes the flusher; capacity 1
	done chan struct{} // closed when the flusher exits
}

// Open opens (creating if needed) the log in dir, passes every intact record's
// payload to replay in order, cuts a torn or corrupt tail, and returns the
// log ready for appends. An error from replay aborts Open. The payload slice
// is only valid during the call.
func Open(dir string, log *slog.Logger, replay func(payload []byte) error) (*Log, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: create data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("wal: open: %w", err)
	}
	if err := lockFile(f); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", path, err), f.Close())
	}
	// A checkpoint that a crash interrupted before its rename is garbage;
	// only the lock holder may remove it, as a running log may be writing it.
	if err := os.Remove(path + ".tmp"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, errors.Join(fmt.Errorf("wal: remove stale checkpoint: %w", err), f.Close())
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// The new file's directory entry must survive a crash too.
		if err := syncDir(dir); err != nil {
			return nil, errors.Join(err, f.Close())
		}
	}
	l := &Log{f: f, path: path, log: log, kick: make(chan struct{}, 1), done: make(chan struct{})}
	l.synced = sync.NewCond(&l.mu)
	if err := l.recover(replay); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	go l.flusher()
	return l, nil
}

// recover replays the intact prefix of the file and truncates the rest.
func (l *Log) recover(replay func([]byte) error) error {
	data, err := io.ReadAll(l.f)
	if err != nil {
		return fmt.Errorf("wal: read %s: %w", l.path, err)
	}
	off, n := 0, uint64(0)
	for off < len(data) {
		payload, reason := nextRecord(data[off:])
		if reason != "" {
			l.reportCut(data, off, n, reason)
			if err := l.f.Truncate(int64(off)); err != nil {
				return fmt.Errorf("wal: truncate torn tail: %w", err)
			}
			if err := l.f.Sync(); err != nil {
				return fmt.Errorf("wal: sync after truncate: %w", err)
			}
			break
		}
		if err := replay(payload); err != nil {
			return fmt.Errorf("wal: replay record %d at offset %d: %w", n, off, err)
		}
		off += headerSize + len(payload)
		n++
	}
	if _, err := l.f.Seek(int64(off), io.SeekStart); err != nil {
		return fmt.Errorf("wal: seek to end: %w", err)
	}
	l.size = int64(off)
	l.log.Info("wal: recovered", "file", l.path, "records", n, "bytes", off)
	return nil
}

// reportCut logs the cut of data at off. A crash only tears what was being
// written, the end of the file; intact-looking records after the bad one
// suggest corruption of the medium instead, which is logged as an error.
func (l *Log) reportCut(data []byte, off int, kept uint64, reason string) {
	after := intactAfter(data[off+1:])
	attrs := []any{"file", l.path, "offset", off, "dropped_bytes", len(data) - off, "reason", reason,
		"intact_records", kept, "intact_looking_records_dropped", after}
	if after == 0 {
		l.log.Warn("wal: cutting torn or corrupt tail", attrs...)
		return
	}
	l.log.Error("wal: cutting torn or corrupt tail; records after it look intact, so the log may be damaged rather than torn by a crash", attrs...)
}

// intactAfter counts the records that decode in b, resynchronising byte by
// byte after the corruption; a CRC32C match by chance is negligible.
func intactAfter(b []byte) int {
	n := 0
	for i := 0; i+headerSize <= len(b); {
		payload, reason := nextRecord(b[i:])
		if reason != "" {
			i++
			continue
		}
		n++
		i += headerSize + len(payload)
	}
	return n
}

// nextRecord decodes the record at the start of b; reason is non-empty when
// it is not intact.
func nextRecord(b []byte) (payload []byte, reason string) {
	if len(b) < headerSize {
		return nil, fmt.Sprintf("short header (%d of %d bytes)", len(b), headerSize)
	}
	size := binary.BigEndian.Uint32(b)
	if size > MaxRecordSize {
		return nil, fmt.Sprintf("record length %d above the limit", size)
	}
	if uint64(len(b)-headerSize) < uint64(size) {
		return nil, fmt.Sprintf("short record (%d of %d bytes)", len(b)-headerSize, size)
	}
	payload = b[headerSize : headerSize+int(size)]
	if checksum(b[:4], payload) != binary.BigEndian.Uint32(b[4:]) {
		return nil, "checksum mismatch"
	}
	return payload, ""
}

func checksum(lenBytes, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(lenBytes, castagnoli), castagnoli, payload)
}

// AppendRecord appends payload to dst in the log's record framing.
func AppendRecord(dst, payload []byte) []byte {
	var hdr [headerSize]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(hdr[4:], checksum(hdr[:4], payload))
	return append(append(dst, hdr[:]...), payload...)
}

// Append adds one record to the log in memory; it is durable once a later
// Sync returns nil. Records reach the file in Append order.
func (l *Log) Append(payload []byte) error {
	if len(payload) > MaxRecordSize {
		return &RecordTooLargeError{Size: len(payload)}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.err != nil {
		return l.err
	}
	l.buf = AppendRecord(l.buf, payload)
	l.appended++
	l.size += int64(headerSize + len(payload))
	return nil
}

// Sync waits until every record appended before the call is written and
// fsynced, or the log failed.
func (l *Log) Sync() error {
	return l.SyncTo(^uint64(0))
}

// Appended is the number of records appended so far: the n-th Append adds
// record n (counting from 1), which SyncTo(n) waits for.
func (l *Log) Appended() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appended
}

// SyncTo waits until records 1 to n (those appended so far, if fewer) are
// written and fsynced, or the log failed. SyncTo(0) returns at once with
// the log's error, if any.
func (l *Log) SyncTo(n uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	target := min(n, l.appended)
	if l.durable >= target || l.err != nil {
		return l.err
	}
	// After Close the flusher's last round covers every append already.
	if !l.closed {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	for l.durable < target && l.err == nil {
		l.synced.Wait()
	}
	return l.err
}

// flusher writes and fsyncs whatever was appended, one batch per round,
// until Close.
func (l *Log) flusher() {
	defer close(l.done)
	var spare []byte
	for {
		_, open := <-l.kick
		l.fileMu.Lock()
		l.mu.Lock()
		batch, target := l.buf, l.appended
		l.buf = spare[:0]
		failed := l.err != nil
		l.mu.Unlock()
		if len(batch) > 0 && !failed {
			err := l.write(batch)
			l.mu.Lock()
			if err != nil {
				l.err = fmt.Errorf("wal: %w", err)
				l.log.Error("wal: write failed; no further write is acknowledged", "file", l.path, "err", err)
			} else {
				l.durable = target
			}
			l.synced.Broadcast()
			l.mu.Unlock()
		}
		l.fileMu.Unlock()
		spare = batch
		if !open {
			return
		}
	}
}

func (l *Log) write(b []byte) error {
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	return nil
}

// Close flushes and fsyncs what was appended, stops the flusher and closes
// the file. Appends after Close fail with ErrClosed; a second Close does nothing.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.kick)
	<-l.done
	l.mu.Lock()
	err := l.err
	l.mu.Unlock()
	return errors.Join(err, l.f.Close())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: open dir for sync: %w", err)
	}
	if err := d.Sync(); err != nil {
		return errors.Join(fmt.Errorf("wal: sync dir: %w", err), d.Close())
	}
	return d.Close()
}
