package engine

import "time"

// Expired cells and long-deleted rows are dropped from storage from time to
// time, so that tables bounded by TTLs (the outbox, CDC logs) stay bounded
// in memory too. Reads never depend on it: they check expiry themselves.
const (
	// compactEvery is how many applied mutations make a compaction due; it
	// runs at most once per compactInterval, as it scans every table.
	compactEvery    = 20000
	compactInterval = 30 * time.Second
	// tombstoneGrace is how long deletions are kept to shadow late writes
	// carrying older timestamps (ScyllaDB's gc_grace_seconds, shortened).
	tombstoneGrace = 10 * time.Minute
)

// maybeCompact counts applied mutations and compacts every table when due.
// The caller holds the write lock.
func (e *Engine) maybeCompact(n int, now int64) {
	e.applied += n
	if e.applied < compactEvery || now-e.lastCompact < int64(compactInterval) {
		return
	}
	e.applied, e.lastCompact = 0, now
	e.compactLocked(now)
}

// compactLocked compacts every table; the caller holds the write lock.
func (e *Engine) compactLocked(now int64) {
	horizon := (now - int64(tombstoneGrace)) / 1000 // write timestamps are µs
	for _, td := range e.data {
		td.compact(now, horizon)
	}
}

// compact drops expired cells, rows with nothing live whose last change is
// older than horizon (µs), and partitions left empty.
func (td *tableData) compact(now, horizon int64) {
	for key, p := range td.parts {
		kept := p.rows[:0]
		for _, r := range p.rows {
			if compactRow(r, now, horizon) {
				kept = append(kept, r)
			} else {
				p.seq = max(p.seq, r.seq)
			}
		}
		clear(p.rows[len(kept):])
		p.rows = kept
		if p.static != nil && !compactRow(p.static, now, horizon) {
			p.static = nil
		}
		ranges := p.ranges[:0]
		for _, rt := range p.ranges {
			if rt.ts >= horizon {
				ranges = append(ranges, rt)
			}
		}
		p.ranges = ranges
		if len(p.rows) == 0 && p.static == nil && len(p.ranges) == 0 && p.delTS < horizon {
			td.removedSeq = max(td.removedSeq, p.seq)
			delete(td.parts, key)
			td.dirty = true
		}
	}
	if td.dirty {
		td.sortMu.Lock()
		td.sorted = nil
		td.sortMu.Unlock()
	}
}

// compactRow drops r's expired cells and reports whether r must be kept:
// it has live data or changed after horizon.
func compactRow(r *row, now, horizon int64) bool {
	newest := r.delTS
	if r.marker.value != nil {
		if !r.marker.live(now) {
			r.marker = cell{}
		} else {
			newest = max(newest, r.marker.ts)
		}
	}
	for name, c := range r.cols {
		newest = max(newest, c.ts, c.delTS)
		if c.value != nil && !c.live(now) {
			c.cell = cell{ts: c.ts}
		}
		for k, el := range c.elems {
			newest = max(newest, el.ts)
			if !el.live(now) {
				delete(c.elems, k)
			}
		}
		if c.value == nil && len(c.elems) == 0 && c.ts < horizon && c.delTS < horizon {
			delete(r.cols, name)
		}
	}
	return rowLive(r, now) || newest >= horizon
}
