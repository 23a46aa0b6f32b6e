package engine

import (
	"cmp"
	"maps"
	"slices"
	"strings"
)

// Checkpoints keep the write-ahead log (and the replay at start-up) in
// proportion to the data rather than to its history: once the log is larger
// than checkpointMinBytes and twice its size after the last checkpoint, the
// write that crossed the line rewrites it, under the write lock, as the CDC
// generation, every schema change so far in order, then the stored data as
// write records (after a compaction, so expired data is left out).
const (
	// checkpointMinBytes keeps small logs alone; replay runs at about the
	// engine's apply speed (BenchmarkRecovery), a second or so per 16 MiB.
	checkpointMinBytes = 16 << 20
	// checkpointRows bounds the row writes in one record (and in one
	// mutation: a large partition, such as a CDC stream, is split).
	checkpointRows = 2000
)

// maybeCheckpointLocked checkpoints when the log has grown enough. The
// caller holds the write lock. A failed checkpoint is logged and retried
// when the log has doubled again: the log itself is still intact.
func (e *Engine) maybeCheckpointLocked(now int64) {
	d := e.dur
	if d.wal.Size() < d.checkpointAt {
		return
	}
	if err := e.checkpointLocked(now); err != nil {
		e.cfg.Logger.Error("wal: checkpoint failed; the log keeps growing", "err", err)
	}
	d.checkpointAt = max(d.minCheckpoint, 2*d.wal.Size())
}

func (e *Engine) checkpointLocked(now int64) error {
	e.compactLocked(now)
	return e.dur.wal.Rewrite(func(emit func([]byte) error) error {
		gen := e.cdc.log.Generation()
		if err := emit(encodeGeneration(gen.Time.UnixNano(), e.cdc.seed)); err != nil {
			return err
		}
		for _, rec := range e.dur.ddls {
			if err := emit(rec); err != nil {
				return err
			}
		}
		var (
			batch []Mutation
			rows  int
		)
		for _, name := range slices.Sorted(maps.Keys(e.data)) {
			ks, table, _ := strings.Cut(name, ".")
			for _, p := range e.data[name].ordered() {
				for _, m := range snapshotPartition(ks, table, p) {
					batch = append(batch, m)
					if rows += len(m.Rows); rows >= checkpointRows {
						if err := emit(encodeWrite(now, batch)); err != nil {
							return err
						}
						batch, rows = batch[:0], 0
					}
				}
			}
		}
		if len(batch) == 0 {
			return nil
		}
		return emit(encodeWrite(now, batch))
	})
}

// snapshotPartition renders a stored partition as mutations that rebuild it
// when applied to an empty table: its tombstones, then per row its
// deletion, collection clears, and one write per distinct (timestamp, TTL,
// expiry) of its marker and cells.
func snapshotPartition(ks, table string, p *partition) []Mutation {
	m := Mutation{Keyspace: ks, Table: table, Key: p.key}
	if p.delTS != noTS {
		m.DeletePartition, m.DeleteTS = true, p.delTS
	}
	for _, rt := range p.ranges {
		m.RangeDeletes = append(m.RangeDeletes, RangeDelete{Start: rt.start, End: rt.end, TS: rt.ts})
	}
	out := []Mutation{}
	flush := func(force bool) {
		if force || len(m.Rows) >= checkpointRows {
			out = append(out, m)
			m = Mutation{Keyspace: ks, Table: table, Key: p.key}
		}
	}
	if p.static != nil {
		m.Rows = append(m.Rows, snapshotRow(p.static, nil, true)...)
	}
	for _, r := range p.rows {
		m.Rows = append(m.Rows, snapshotRow(r, r.ck, false)...)
		flush(false)
	}
	if m.DeletePartition || len(m.RangeDeletes) > 0 || len(m.Rows) > 0 {
		flush(true)
	}
	return out
}

// cellGroup is the (timestamp, TTL, expiry) that cells share in one RowWrite.
type cellGroup struct {
	ts, expires int64
	ttl         int32
}

func snapshotRow(r *row, ck [][]byte, static bool) []RowWrite {
	var out []RowWrite
	if r.delTS != noTS {
		out = append(out, RowWrite{Clustering: ck, Static: static, Delete: true, TS: r.delTS})
	}
	groups := map[cellGroup]*RowWrite{}
	var order []cellGroup
	write := func(c cell) *RowWrite {
		g := cellGroup{ts: c.ts, expires: c.expires, ttl: c.ttl}
		w := groups[g]
		if w == nil {
			w = &RowWrite{Clustering: ck, Static: static, TS: c.ts, TTL: c.ttl, ExpiresAt: c.expires}
			groups[g] = w
			order = append(order, g)
		}
		return w
	}
	if r.marker.value != nil {
		write(r.marker).Marker = true
	}
	for _, name := range slices.Sorted(maps.Keys(r.cols)) {
		c := r.cols[name]
		if c.delTS != noTS {
			// CellClear deletes up to TS-1.
			out = append(out, RowWrite{Clustering: ck, Static: static, TS: c.delTS + 1,
				Cells: []CellWrite{{Column: name, Op: CellClear}}})
		}
		if c.ts != noTS {
			w := write(c.cell)
			w.Cells = append(w.Cells, CellWrite{Column: name, Op: CellSet, Value: c.value})
		}
		for _, k := range slices.Sorted(maps.Keys(c.elems)) {
			el := c.elems[k]
			w := write(el)
			w.Cells = append(w.Cells, CellWrite{Column: name, Op: CellElement, Key: []byte(k), Value: el.value})
		}
	}
	slices.SortStableFunc(order, func(a, b cellGroup) int { return cmp.Compare(a.ts, b.ts) })
	for _, g := range order {
		out = append(out, *groups[g])
	}
	return out
}
