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
// replays every intact record. A damaged record (short, oversized or failing
// its checksum) with no intact record anywhere after it is a torn tail, the
// normal trace of a crash during a write: it is cut, with a warning. A
// damaged record followed by intact ones is damage to the medium, never
// repaired silently: in RecoveryStrict (the default) Open fails with a
// *DamageError; in RecoverySalvage it drops the damaged bytes, keeps every
// intact record after them and logs what it dropped (recover.go).
//
// Group commit: Append only copies the record into a buffer; one flusher
// goroutine writes the buffer and fsyncs it, so one fsync covers every
// record appended while the previous one ran. Sync blocks until the records
// appended before it are on disk. A failed write or fsync (a full disk)
// fails every record not yet durable; Reset then cuts the file back to its
// last durable byte so that writing can resume without a restart.
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
	// round, by Rewrite while it replaces the file, by Reset. It is taken
	// before mu.
	fileMu sync.Mutex

	mu       sync.Mutex
	synced   *sync.Cond // broadcast when durable, err or failures change
	buf      []byte     // records appended but not yet handed to the flusher
	appended uint64     // records appended so far
	durable  uint64     // records written and fsynced
	size     int64      // bytes in the file plus bytes in buf
	good     int64      // bytes of the file known to be written and fsynced
	// err is set by a failed write or fsync: nothing is appended or
	// acknowledged until Reset clears it.
	err error
	// failures counts the failed writes; lost are the record numbers that
	// failed, one range per Reset, which SyncTo keeps failing: numbers go
	// on after a Reset, so a record is never confused with a lost one.
	failures uint64
	lost     []lostRange
	closed   bool

	kick chan struct{} // wakes the flusher; capacity 1
	done chan struct{} // closed when the flusher exits
}

// lostRange is the records first to last, lost by a failed write.
type lostRange struct {
	first, last uint64
	err         error
}

// Options configures Open.
type Options struct {
	// Logger receives the recovery report and write failures; nil discards.
	Logger *slog.Logger
	// Recovery says what Open does with damage before intact records;
	// the zero value is RecoveryStrict.
	Recovery Recovery
}

// Open opens (creating if needed) the log in dir, passes every intact record's
// payload to replay in order, cuts a torn tail, handles damage in the middle
// of the log as opts.Recovery says, and returns the log ready for appends.
// An error from replay aborts Open. The payload slice is only valid during
// the call.
func Open(dir string, opts Options, replay func(payload []byte) error) (*Log, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := ParseRecovery(string(opts.Recovery)); err != nil {
		return nil, err
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
	if err := l.recover(opts.Recovery, replay); err != nil {
		return nil, errors.Join(err, l.f.Close())
	}
	go l.flusher()
	return l, nil
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
// Sync returns nil. Records reach the file in Append order. After a failed
// write it returns that failure until Reset.
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
// written and fsynced, or the write of one of them failed. Records already
// durable need no wait, even on a failed log: reads of settled data go on
// while the disk is full. Record n lost by a failed write is an error for
// good, also after Reset.
func (l *Log) SyncTo(n uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	target := min(n, l.appended)
	for _, r := range l.lost {
		if target >= r.first && target <= r.last {
			return r.err
		}
	}
	if l.durable >= target {
		return nil
	}
	if l.err != nil {
		return l.err
	}
	// After Close the flusher's last round covers every append already.
	if !l.closed {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	failures := l.failures
	for l.durable < target && l.failures == failures {
		l.synced.Wait()
	}
	if l.failures != failures {
		return l.err
	}
	return nil
}

// Err is the failure of the last write or fsync, nil while the log is
// healthy or once Reset recovered from it.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
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
				l.fail(fmt.Errorf("wal: %w", err))
			} else {
				l.durable = target
				l.good += int64(len(batch))
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

// fail records a failed write: every record not yet durable is lost, and
// nothing is appended until Reset. The caller holds mu.
func (l *Log) fail(err error) {
	l.err = err
	l.failures++
	l.log.Error("wal: write failed; the records not yet durable are not acknowledged and nothing is appended until the log is reset",
		"file", l.path, "lost_records", l.appended-l.durable, "durable_bytes", l.good, "err", err)
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

// Reset brings a failed log back into service without a restart: it
// reopens the file (after a failed fsync the kernel may have dropped the
// dirty pages, so the old descriptor's state is not trusted), cuts it to
// the last byte known durable and fsyncs that. Every record appended since
// that byte is lost for good (SyncTo keeps failing for it): the caller must
// drop whatever it applied for them, with Records. On error (the disk
// still refuses) the log stays failed and Reset can be called again. It
// does nothing on a healthy log.
func (l *Log) Reset() error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil || l.closed {
		return l.err
	}
	f, err := os.OpenFile(l.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: reset: reopen: %w", err)
	}
	// The lock belongs to the open file: it is taken again on the new
	// descriptor once the old one is closed.
	if err := l.f.Close(); err != nil {
		l.log.Warn("wal: reset: close failed log", "err", err)
	}
	l.f = f
	if err := lockFile(f); err != nil {
		return fmt.Errorf("wal: reset: %w", err)
	}
	if err := f.Truncate(l.good); err != nil {
		return fmt.Errorf("wal: reset: cut to %d bytes: %w", l.good, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("wal: reset: fsync: %w", err)
	}
	if _, err := f.Seek(l.good, io.SeekStart); err != nil {
		return fmt.Errorf("wal: reset: seek: %w", err)
	}
	l.log.Warn("wal: reset after a failed write; appending again", "file", l.path,
		"lost_records", l.appended-l.durable, "durable_bytes", l.good)
	if l.appended > l.durable {
		l.lost = append(l.lost, lostRange{first: l.durable + 1, last: l.appended, err: l.err})
	}
	// One number is skipped, and counts as durable: a caller that takes
	// Appended after the reset, to wait for "everything so far", must not
	// get the last lost record's number.
	l.appended++
	l.buf = l.buf[:0]
	l.durable = l.appended
	l.size = l.good
	l.err = nil
	l.synced.Broadcast()
	return nil
}

// Records passes the payload of every durable record, in order, to fn:
// after Reset, the caller rebuilds its state from them. Appends must be
// kept out while it runs.
func (l *Log) Records(fn func(payload []byte) error) error {
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.mu.Lock()
	good := l.good
	l.mu.Unlock()
	data, err := io.ReadAll(io.NewSectionReader(l.f, 0, good))
	if err != nil {
		return fmt.Errorf("wal: read %s: %w", l.path, err)
	}
	for off := 0; off < len(data); {
		payload, reason := nextRecord(data[off:])
		if reason != "" {
			return fmt.Errorf("wal: %s: record at offset %d: %s", l.path, off, reason)
		}
		if err := fn(payload); err != nil {
			return err
		}
		off += headerSize + len(payload)
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
