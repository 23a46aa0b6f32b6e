package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Recovery is what Open does with a damaged record that has intact records
// after it.
type Recovery string

const (
	// RecoveryStrict refuses to open the log: an operator decides.
	RecoveryStrict Recovery = "strict"
	// RecoverySalvage drops the damaged bytes, keeps every intact record
	// and rewrites the log without the damage.
	RecoverySalvage Recovery = "salvage"
)

// ParseRecovery accepts "strict", "salvage" and "" (strict).
func ParseRecovery(s string) (Recovery, error) {
	switch Recovery(s) {
	case "", RecoveryStrict:
		return RecoveryStrict, nil
	case RecoverySalvage:
		return RecoverySalvage, nil
	}
	return "", fmt.Errorf("wal: recovery mode %q: want %q or %q", s, RecoveryStrict, RecoverySalvage)
}

// DamageError is Open's refusal, in RecoveryStrict, of a log damaged before
// intact records: cutting it there, as a torn tail is cut, would drop them.
type DamageError struct {
	Path string
	// Offset is the damaged record's first byte; Length the bytes from
	// there to the next intact record.
	Offset, Length int64
	// Reason says why the record at Offset is not intact.
	Reason string
	// Before and After count the intact records before and after it;
	// Regions counts the damaged regions between intact records.
	Before, After, Regions int
}

// Error names the file, the damage and the way forward.
func (e *DamageError) Error() string {
	return fmt.Sprintf("wal: %s is damaged at byte offset %d (%s; %d bytes up to the next intact record, %d damaged region(s) in all): "+
		"%d intact records follow the damage, so it is not a torn tail from a crash and cutting the log there would lose them. "+
		"Refusing to start. Copy the file aside, then restart with WAL recovery mode %q "+
		"(--embedded-wal-recovery salvage, on outbox-node and devstack alike) "+
		"to drop only the damaged bytes and keep all %d intact records",
		e.Path, e.Offset, e.Reason, e.Length, e.Regions, e.After, RecoverySalvage, e.Before+e.After)
}

// segment is a stretch of the file: an intact record, or damaged bytes
// (reason set) up to the next intact record or the end of the file.
type segment struct {
	off, end int
	reason   string
}

// segments splits data into intact records and damaged stretches. After a
// damaged record it resynchronises byte by byte on the next offset where
// a whole record passes its CRC32C check; a match by chance is negligible.
func segments(data []byte) []segment {
	var segs []segment
	for off := 0; off < len(data); {
		payload, reason := nextRecord(data[off:])
		if reason == "" {
			end := off + headerSize + len(payload)
			segs = append(segs, segment{off: off, end: end})
			off = end
			continue
		}
		next := off + 1
		for ; next < len(data); next++ {
			if _, r := nextRecord(data[next:]); r == "" {
				break
			}
		}
		segs = append(segs, segment{off: off, end: next, reason: reason})
		off = next
	}
	return segs
}

// recover replays the intact records of the file. The rule that tells a
// torn tail from damage: damaged bytes with no intact record after them
// are a torn tail, cut with a warning; damaged bytes followed by an intact
// record are damage, refused in strict mode and dropped in salvage mode.
func (l *Log) recover(mode Recovery, replay func([]byte) error) error {
	data, err := io.ReadAll(l.f)
	if err != nil {
		return fmt.Errorf("wal: read %s: %w", l.path, err)
	}
	segs := segments(data)
	var tail *segment
	if n := len(segs); n > 0 && segs[n-1].reason != "" {
		tail, segs = &segs[n-1], segs[:n-1]
	}
	records, damaged := 0, []segment(nil)
	for _, s := range segs {
		if s.reason != "" {
			damaged = append(damaged, s)
		} else {
			records++
		}
	}
	if len(damaged) > 0 && mode != RecoverySalvage {
		d := damaged[0]
		before := 0
		for _, s := range segs {
			if s.off < d.off && s.reason == "" {
				before++
			}
		}
		return &DamageError{Path: l.path, Offset: int64(d.off), Length: int64(d.end - d.off), Reason: d.reason,
			Before: before, After: records - before, Regions: len(damaged)}
	}
	n := 0
	for _, s := range segs {
		if s.reason != "" {
			l.reportDropped(data, s, n)
			continue
		}
		if err := replay(data[s.off+headerSize : s.end]); err != nil {
			return fmt.Errorf("wal: replay record %d at offset %d: %w", n, s.off, err)
		}
		n++
	}
	kept := len(data)
	if tail != nil {
		kept = tail.off
		l.log.Warn("wal: cutting torn or corrupt tail", "file", l.path, "offset", tail.off,
			"dropped_bytes", tail.end-tail.off, "reason", tail.reason, "intact_records", n)
	}
	switch {
	case len(damaged) > 0:
		if err := l.rewriteSalvaged(data, segs); err != nil {
			return err
		}
	case tail != nil:
		if err := l.f.Truncate(int64(kept)); err != nil {
			return fmt.Errorf("wal: truncate torn tail: %w", err)
		}
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("wal: sync after truncate: %w", err)
		}
	}
	size, err := l.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("wal: seek to end: %w", err)
	}
	l.size, l.good = size, size
	l.log.Info("wal: recovered", "file", l.path, "records", n, "bytes", size)
	return nil
}

// reportDropped logs one damaged stretch that salvage mode drops; kept is
// the number of intact records before it.
func (l *Log) reportDropped(data []byte, s segment, kept int) {
	records := "1 or more (its length field is damaged)"
	if n := s.end - s.off; n >= headerSize && headerSize+int(binary.BigEndian.Uint32(data[s.off:])) == n {
		records = "1"
	}
	l.log.Error("wal: salvage: dropped damaged record(s); the writes they held are lost",
		"file", l.path, "offset", s.off, "length", s.end-s.off, "dropped_records", records,
		"reason", s.reason, "intact_records_before", kept)
}

// rewriteSalvaged replaces the log with its intact records, crash-safely
// as a checkpoint, so that the next start finds no damage.
func (l *Log) rewriteSalvaged(data []byte, segs []segment) error {
	tmp := l.path + ".tmp"
	f, _, err := writeTemp(tmp, func(emit func([]byte) error) error {
		for _, s := range segs {
			if s.reason == "" {
				if err := emit(data[s.off+headerSize : s.end]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		if err = os.Rename(tmp, l.path); err != nil {
			err = errors.Join(err, f.Close(), os.Remove(tmp))
		}
	}
	if err == nil {
		if err = syncDir(filepath.Dir(l.path)); err != nil {
			err = errors.Join(err, f.Close())
		}
	}
	if err != nil {
		return fmt.Errorf("wal: salvage: rewrite %s without the damage: %w", l.path, err)
	}
	if err := l.f.Close(); err != nil {
		l.log.Warn("wal: close damaged log", "err", err)
	}
	l.f = f
	return nil
}
