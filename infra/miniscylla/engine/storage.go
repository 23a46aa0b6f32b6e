package engine

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"sort"
	"sync"
)

// noTS marks "no deletion" in tombstone fields.
const noTS = math.MinInt64

// cell is one stored value with its write time; a nil value is a tombstone.
type cell struct {
	value   []byte
	ts      int64
	expires int64 // Unix ns; 0 never
	ttl     int32
}

func (c *cell) live(now int64) bool {
	return c.value != nil && (c.expires == 0 || now < c.expires)
}

// newer reports whether c wins over old: higher timestamp; on a tie a
// deletion wins, then the larger value, as Cassandra reconciles cells.
func (c *cell) newer(old *cell) bool {
	switch {
	case c.ts != old.ts:
		return c.ts > old.ts
	case c.value == nil:
		return true
	case old.value == nil:
		return false
	}
	return bytes.Compare(c.value, old.value) >= 0
}

// column is a stored column: a single cell, or per-element cells for
// non-frozen collections and UDTs.
type column struct {
	cell
	elems map[string]cell
	delTS int64 // collection tombstone
}

type row struct {
	ck     [][]byte
	delTS  int64
	marker cell // value non-nil when the marker is set
	cols   map[string]*column
	// seq is the write-ahead log record of the row's last write (0: none
	// or durable), which a read that looks at the row waits for.
	seq uint64
}

// newRow returns an empty row with room for ncols columns.
func newRow(ck [][]byte, ncols int) *row {
	return &row{ck: ck, delTS: noTS, cols: make(map[string]*column, ncols)}
}

type rangeTombstone struct {
	start, end Bound
	ts         int64
}

type partition struct {
	key    []byte
	token  int64
	delTS  int64
	static *row
	rows   []*row // sorted by clustering order
	ranges []rangeTombstone
	// seq is the log record of the last write to the partition as a whole
	// (deletions, range tombstones, static row) or that dropped rows from
	// it; a read of the partition waits for it and for its rows' seq.
	seq uint64
	// writes counts the mutations applied to the partition: an LWT that
	// read it without the write lock checks, once it holds that lock, that
	// nothing changed it since (lwt.go).
	writes uint64
}

// tableData holds one table's partitions. It is guarded by the store lock,
// except for the lazily rebuilt token order, which has its own mutex so that
// concurrent readers can build it.
type tableData struct {
	order *clusteringOrder
	parts map[string]*partition
	// removedSeq is the highest seq of the partitions compaction dropped:
	// their absence is what a read sees.
	removedSeq uint64

	sortMu sync.Mutex
	sorted []*partition
	dirty  bool
}

func newTableData(order *clusteringOrder) *tableData {
	return &tableData{order: order, parts: map[string]*partition{}}
}

// ordered returns the partitions in token order. Callers hold the store's
// read lock.
func (td *tableData) ordered() []*partition {
	td.sortMu.Lock()
	defer td.sortMu.Unlock()
	if td.dirty || td.sorted == nil {
		s := make([]*partition, 0, len(td.parts))
		for _, p := range td.parts {
			s = append(s, p)
		}
		sort.Slice(s, func(i, j int) bool { return partitionLess(s[i], s[j]) })
		td.sorted, td.dirty = s, false
	}
	return td.sorted
}

func partitionLess(a, b *partition) bool {
	if a.token != b.token {
		return a.token < b.token
	}
	return bytes.Compare(a.key, b.key) < 0
}

func (td *tableData) partitionFor(key []byte) *partition {
	if p, ok := td.parts[string(key)]; ok {
		return p
	}
	k := bytes.Clone(key)
	p := &partition{key: k, token: Token(k), delTS: noTS}
	td.parts[string(k)] = p
	td.dirty = true
	return p
}

// findRow returns the index of ck in p.rows and whether it exists.
func (td *tableData) findRow(p *partition, ck [][]byte) (int, bool) {
	// Keys that grow with time (the CDC log's cdc$time, timeuuid event ids)
	// land after the last row: one comparison instead of a binary search.
	if n := len(p.rows); n > 0 && td.order.compare(p.rows[n-1].ck, ck) < 0 {
		return n, false
	}
	return slices.BinarySearchFunc(p.rows, ck, func(r *row, ck [][]byte) int { return td.order.compare(r.ck, ck) })
}

// applyMutation applies m to td, stamping what it touches with the log
// record seq that holds it. The caller holds the store's write lock.
func (td *tableData) applyMutation(m *Mutation, now int64, seq uint64) {
	p := td.partitionFor(m.Key)
	p.writes++
	if m.DeletePartition || len(m.RangeDeletes) > 0 {
		p.seq = max(p.seq, seq)
	}
	if m.DeletePartition && m.DeleteTS > p.delTS {
		p.delTS = m.DeleteTS
		if p.static != nil {
			purgeRow(p.static, p.delTS)
		}
		for _, r := range p.rows {
			purgeRow(r, p.delTS)
		}
	}
	for _, rd := range m.RangeDeletes {
		p.ranges = append(p.ranges, rangeTombstone{start: rd.Start, end: rd.End, ts: rd.TS})
		for _, r := range p.rows {
			if td.inRange(r.ck, rd.Start, rd.End) {
				purgeRow(r, rd.TS)
			}
		}
	}
	for i := range m.Rows {
		td.applyRow(p, &m.Rows[i], now, seq)
	}
}

func (td *tableData) applyRow(p *partition, w *RowWrite, now int64, seq uint64) {
	floor := p.delTS
	var r *row
	if w.Static {
		if p.static == nil {
			p.static = newRow(nil, len(w.Cells))
		}
		r = p.static
		p.seq = max(p.seq, seq)
	} else {
		i, ok := td.findRow(p, w.Clustering)
		if !ok {
			// Even a bare tombstone is kept: it shadows later writes with older timestamps.
			r = newRow(cloneKey(w.Clustering), len(w.Cells))
			p.rows = slices.Insert(p.rows, i, r)
		} else {
			r = p.rows[i]
		}
		r.seq = max(r.seq, seq)
		for _, rt := range p.ranges {
			if rt.ts > floor && td.inRange(r.ck, rt.start, rt.end) {
				floor = rt.ts
			}
		}
	}
	if w.Delete && w.TS > r.delTS {
		r.delTS = w.TS
		purgeRow(r, r.delTS)
	}
	floor = max(floor, r.delTS)
	if w.TS <= floor {
		return
	}
	if w.Marker {
		mk := cell{value: []byte{}, ts: w.TS, expires: w.ExpiresAt, ttl: w.TTL}
		if mk.newer(&r.marker) || r.marker.value == nil {
			r.marker = mk
		}
	}
	// The columns this write adds share one allocation: fewer, larger
	// objects for the allocator and the garbage collector on the write path.
	var spare []column
	for i := range w.Cells {
		cw := &w.Cells[i]
		col := r.cols[cw.Column]
		if col == nil {
			if len(spare) == 0 {
				spare = make([]column, len(w.Cells)-i)
			}
			col, spare = &spare[0], spare[1:]
			*col = column{cell: cell{ts: noTS}, delTS: noTS}
			r.cols[cw.Column] = col
		}
		applyCell(col, cw, w, now)
	}
}

// applyCell merges one cell write into col.
func applyCell(col *column, cw *CellWrite, w *RowWrite, now int64) {
	nc := cell{value: cw.Value, ts: w.TS, expires: w.ExpiresAt, ttl: w.TTL}
	if cw.Value == nil {
		nc.expires, nc.ttl = 0, 0
	}
	switch cw.Op {
	case CellSet:
		if nc.newer(&col.cell) {
			col.cell = nc
		}
	case CellClear:
		// Overwrites clear at TS-1 so the new elements of the same write survive.
		if w.TS-1 > col.delTS {
			col.delTS = w.TS - 1
			for k, e := range col.elems {
				if e.ts <= col.delTS {
					delete(col.elems, k)
				}
			}
		}
	case CellElement:
		putElem(col, string(cw.Key), nc)
	case CellListIndex:
		keys := liveListKeys(col, now)
		idx := int(int32(binary.BigEndian.Uint32(cw.Key)))
		if idx >= 0 && idx < len(keys) {
			putElem(col, keys[idx], nc)
		}
	case CellListRemove:
		for _, k := range liveListKeys(col, now) {
			if bytes.Equal(col.elems[k].value, cw.Value) {
				putElem(col, k, cell{ts: w.TS})
			}
		}
	}
}

func putElem(col *column, key string, nc cell) {
	if nc.ts <= col.delTS {
		return
	}
	if col.elems == nil {
		col.elems = map[string]cell{}
	}
	if old, ok := col.elems[key]; ok && !nc.newer(&old) {
		return
	}
	col.elems[key] = nc
}

// liveListKeys returns the list's live element keys in list order.
func liveListKeys(col *column, now int64) []string {
	keys := make([]string, 0, len(col.elems))
	for k, e := range col.elems {
		if e.live(now) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int { return compareTimeUUID([]byte(a), []byte(b)) })
	return keys
}

// purgeRow drops everything in r written at or before ts.
func purgeRow(r *row, ts int64) {
	if r.marker.value != nil && r.marker.ts <= ts {
		r.marker = cell{}
	}
	for name, c := range r.cols {
		if c.ts <= ts {
			c.cell = cell{ts: noTS}
		}
		if c.elems != nil {
			if ts > c.delTS {
				c.delTS = ts
			}
			for k, e := range c.elems {
				if e.ts <= ts {
					delete(c.elems, k)
				}
			}
		}
		if c.value == nil && len(c.elems) == 0 && c.delTS == noTS {
			delete(r.cols, name)
		}
	}
}

// inRange reports whether clustering key ck lies within [start, end]. Bounds
// compare by value (a range on a DESC column means the same values).
func (td *tableData) inRange(ck [][]byte, start, end Bound) bool {
	if len(start.Prefix) > 0 {
		c := td.order.compareValues(ck[:min(len(ck), len(start.Prefix))], start.Prefix)
		if c < 0 || (c == 0 && !start.Inclusive) {
			return false
		}
	}
	if len(end.Prefix) > 0 {
		c := td.order.compareValues(ck[:min(len(ck), len(end.Prefix))], end.Prefix)
		if c > 0 || (c == 0 && !end.Inclusive) {
			return false
		}
	}
	return true
}

// cloneKey deep-copies a clustering key into one buffer (nil values stay nil).
func cloneKey(ck [][]byte) [][]byte {
	n := 0
	for _, v := range ck {
		n += len(v)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(ck))
	for i, v := range ck {
		if v != nil {
			start := len(buf)
			buf = append(buf, v...)
			out[i] = buf[start:len(buf):len(buf)]
		}
	}
	return out
}

// rowLive reports whether r exists: a live marker or any live cell.
func rowLive(r *row, now int64) bool {
	if r.marker.live(now) {
		return true
	}
	for _, c := range r.cols {
		if c.live(now) {
			return true
		}
		for _, e := range c.elems {
			if e.live(now) {
				return true
			}
		}
	}
	return false
}

// check reports the errors applying m would hit: list element positions
// that do not exist. It runs before anything is applied, under the same
// lock, so a failing batch changes nothing.
func (td *tableData) check(m *Mutation, now int64) error {
	for _, w := range m.Rows {
		for _, cw := range w.Cells {
			if cw.Op != CellListIndex {
				continue
			}
			size := 0
			if r := td.existingRow(m.Key, &w); r != nil {
				if col := r.cols[cw.Column]; col != nil {
					size = len(liveListKeys(col, now))
				}
			}
			if idx := int(int32(binary.BigEndian.Uint32(cw.Key))); idx < 0 || idx >= size {
				return invalidf("List index %d out of bound, list has size %d", idx, size)
			}
		}
	}
	return nil
}

func (td *tableData) existingRow(key []byte, w *RowWrite) *row {
	p, ok := td.parts[string(key)]
	if !ok {
		return nil
	}
	if w.Static {
		return p.static
	}
	i, found := td.findRow(p, w.Clustering)
	if !found {
		return nil
	}
	return p.rows[i]
}

// dropColumn removes every stored cell of column name (ALTER TABLE DROP).
func (td *tableData) dropColumn(name string) {
	for _, p := range td.parts {
		if p.static != nil {
			delete(p.static.cols, name)
		}
		for _, r := range p.rows {
			delete(r.cols, name)
		}
	}
}
