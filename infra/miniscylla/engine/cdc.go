package engine

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/outboxnode/outbox/infra/miniscylla/cdc"
)

// CDC emulation: every atomic apply that writes a CDC-enabled table also
// writes that table's log rows, inside the same critical section, so a
// change and its log rows become visible together (and no later than the
// change's cdc$time, which is its write timestamp).

const (
	// cdcGenerationMargin places the generation before the server's start so
	// that it precedes every write timestamp a client sends from then on.
	cdcGenerationMargin = 10 * time.Second
	// Several vnodes with several streams each, like a real node, so readers
	// exercise stream grouping; small enough that one poll is a few queries.
	cdcVnodes          = 4
	cdcStreamsPerVnode = 2
)

// cdcState is the node's single CDC generation and its cdc$time clock.
type cdcState struct {
	log *cdc.Log
	// seed chose the generation's streams; with its time it is what a
	// restart needs to rebuild the same generation (durable.go).
	seed uint64
	// tablets holds the stream sets of CDC tables in tablets keyspaces,
	// which do not use the generation (tablets.go).
	tablets tabletStreams
}

func newCDCState(start time.Time) (*cdcState, error) {
	return cdcStateFor(start.Add(-cdcGenerationMargin), rand.Uint64())
}

// cdcStateFor builds the generation dated genTime with streams from seed;
// equal arguments give equal generations.
func cdcStateFor(genTime time.Time, seed uint64) (*cdcState, error) {
	gen, err := cdc.NewGeneration(genTime, cdcVnodes, cdcStreamsPerVnode, seed)
	if err != nil {
		return nil, err
	}
	// The clock's random low bits need not repeat across restarts.
	return &cdcState{log: cdc.NewLog(gen, cdc.NewClock(rand.Uint64())), seed: seed,
		tablets: tabletStreams{tables: map[string]*cdc.TableStreams{}}}, nil
}

// cdcTable is what the hook needs to know about a table a mutation writes.
type cdcTable struct {
	base *Table
	// log is the base table's log table; nil when CDC is off for it.
	log  *Table
	opts cdc.Options
	// data is the base table's stored data.
	data *tableData
	now  int64
	// tablets is set for a table of a tablets keyspace: its stream sets
	// replace the node's generation. streams is nil only for a log table
	// that has none (made before stream sets were kept).
	tablets bool
	streams *cdc.TableStreams
}

// cdcTableOf resolves the table a mutation writes. The caller holds the lock.
func (e *Engine) cdcTableOf(ks, table string, now int64) cdcTable {
	k := e.keyspaces[ks]
	if k == nil {
		return cdcTable{}
	}
	base := k.Tables[table]
	opts, ok := cdcOptions(base)
	if !ok {
		return cdcTable{}
	}
	log := k.Tables[cdc.LogTableName(table)]
	if log == nil {
		return cdcTable{}
	}
	t := cdcTable{base: base, log: log, opts: opts, data: e.data[ks+"."+table], now: now, tablets: k.usesTablets()}
	if t.tablets {
		t.streams = e.cdc.tablets.tables[ks+"."+table]
	}
	return t
}

// cdcCollect is the first half of the CDC hook in applyLocked: it reads
// what the writes to CDC-enabled tables in muts will change, before they
// apply, and picks the stream of each change of a tablets table. An error
// (a write timestamp no stream set covers) refuses the whole apply. The
// caller holds the write lock.
func (e *Engine) cdcCollect(muts []Mutation, now int64) ([]*cdcPending, error) {
	pending := e.cdc.collect(muts, func(ks, table string) cdcTable { return e.cdcTableOf(ks, table, now) })
	for _, p := range pending {
		if !p.table.tablets {
			continue
		}
		base := p.table.base
		if p.table.streams == nil {
			return nil, &Error{Code: CodeServer, Msg: "cdc::metadata::get_stream: could not find stream metadata for table " +
				base.Keyspace + "." + base.Name + "."}
		}
		id, err := e.tabletStreamFor(p.table.streams, base.Keyspace, base.Name, p.change.Token, p.change.Micros)
		if err != nil {
			return nil, err
		}
		p.stream = &id
	}
	return pending, nil
}

// cdcApply is the second half of the hook, run after muts applied under the
// same lock: it writes the log rows (stamped with the base write's log
// record seq, as one record holds both), so a change and its log rows become
// visible together. It returns the log mutations it applied.
func (e *Engine) cdcApply(pending []*cdcPending, now int64, seq uint64) []Mutation {
	muts := e.cdc.logMutations(pending, now)
	for i := range muts {
		if td := e.data[muts[i].Keyspace+"."+muts[i].Table]; td != nil {
			td.applyMutation(&muts[i], now, seq)
		}
	}
	return muts
}

// cdcPending is one change being built: the target table and the base
// partition it concerns, plus, per RowChange, where to read its post-image.
type cdcPending struct {
	table  cdcTable
	key    []byte
	change cdc.Change
	rows   []cdcRowRef
	// stream is the tablets stream of the change; nil for vnode tables,
	// whose stream comes from the generation.
	stream *cdc.StreamID
}

// cdcRowRef locates the base row of a RowChange; ok is false for
// partition-level rows (partition and range deletions), which have no image.
type cdcRowRef struct {
	ck     [][]byte
	static bool
	ok     bool
}

// collect builds the changes of ms, before they apply: deltas resolve list
// positions and removals against the current data, and pre-images read it.
func (s *cdcState) collect(ms []Mutation, lookup func(ks, table string) cdcTable) []*cdcPending {
	type groupKey struct {
		ks, table, key string
		ts             int64
	}
	var order []*cdcPending
	groups := map[groupKey]*cdcPending{}
	group := func(t cdcTable, m *Mutation, ts int64) *cdcPending {
		k := groupKey{m.Keyspace, m.Table, string(m.Key), ts}
		g := groups[k]
		if g == nil {
			g = &cdcPending{table: t, key: m.Key, change: cdc.Change{Token: Token(m.Key), Micros: ts}}
			groups[k] = g
			order = append(order, g)
		}
		return g
	}
	for i := range ms {
		m := &ms[i]
		t := lookup(m.Keyspace, m.Table)
		if t.log == nil {
			continue
		}
		pk, ok := splitPartitionKey(m.Key, len(t.base.PartitionKey))
		if !ok {
			continue
		}
		if m.DeletePartition {
			g := group(t, m, m.DeleteTS)
			g.add(cdc.RowChange{Keys: t.keys(pk, nil), Deltas: []cdc.Delta{{Op: cdc.OpPartitionDelete}}}, cdcRowRef{})
		}
		for _, rd := range m.RangeDeletes {
			g := group(t, m, rd.TS)
			// Unbounded ends are inclusive, like ScyllaDB's bottom and top bounds.
			startOp, endOp := cdc.OpRangeDeleteStartExclusive, cdc.OpRangeDeleteEndExclusive
			if rd.Start.Inclusive || len(rd.Start.Prefix) == 0 {
				startOp = cdc.OpRangeDeleteStartInclusive
			}
			if rd.End.Inclusive || len(rd.End.Prefix) == 0 {
				endOp = cdc.OpRangeDeleteEndInclusive
			}
			g.add(cdc.RowChange{Keys: t.keys(pk, rd.Start.Prefix), Deltas: []cdc.Delta{{Op: startOp}}}, cdcRowRef{})
			g.add(cdc.RowChange{Keys: t.keys(pk, rd.End.Prefix), Deltas: []cdc.Delta{{Op: endOp}}}, cdcRowRef{})
		}
		for j := range m.Rows {
			w := &m.Rows[j]
			ref := cdcRowRef{ck: w.Clustering, static: w.Static, ok: true}
			var ck [][]byte
			if !w.Static {
				ck = w.Clustering
			}
			before := t.storedRow(m.Key, ref)
			rc := cdc.RowChange{Keys: t.keys(pk, ck), Deltas: t.rowDeltas(w, before)}
			if t.opts.Preimage != cdc.ImageOff {
				rc.Before = t.image(before)
			}
			group(t, m, w.TS).add(rc, ref)
		}
	}
	return order
}

func (p *cdcPending) add(rc cdc.RowChange, ref cdcRowRef) {
	p.change.Rows = append(p.change.Rows, rc)
	p.rows = append(p.rows, ref)
}

// logMutations reads the post-images (the base writes have applied) and
// turns each change into one mutation of its log table.
func (s *cdcState) logMutations(pending []*cdcPending, now int64) []Mutation {
	out := make([]Mutation, 0, len(pending))
	for _, p := range pending {
		if p.table.opts.Postimage {
			for i, ref := range p.rows {
				if ref.ok {
					p.change.Rows[i].After = p.table.image(p.table.storedRow(p.key, ref))
				}
			}
		}
		var rows []cdc.LogRow
		if p.stream != nil {
			rows = s.log.RowsIn(*p.stream, p.table.opts, p.change)
		} else {
			rows = s.log.Rows(p.table.opts, p.change)
		}
		if len(rows) == 0 {
			continue
		}
		// The stream, time and seq_no cells RowsIn made hold the key values:
		// the log row's key shares them (applyRow copies a new row's key).
		m := Mutation{Keyspace: p.table.log.Keyspace, Table: p.table.log.Name, Key: rows[0].Cells[cdc.ColStreamID],
			Rows: make([]RowWrite, 0, len(rows))}
		ttl := int32(p.table.opts.TTL)
		var expires int64
		if ttl > 0 {
			expires = now + int64(ttl)*int64(time.Second)
		}
		for _, r := range rows {
			w := RowWrite{
				Clustering: [][]byte{r.Cells[cdc.ColTime], r.Cells[cdc.ColBatchSeqNo]},
				Marker:     true, TS: p.change.Micros, TTL: ttl, ExpiresAt: expires,
				Cells: make([]CellWrite, 0, len(r.Cells)),
			}
			for name, v := range r.Cells {
				if v != nil && name != cdc.ColStreamID && name != cdc.ColTime && name != cdc.ColBatchSeqNo {
					w.Cells = append(w.Cells, CellWrite{Column: name, Op: CellSet, Value: v})
				}
			}
			m.Rows = append(m.Rows, w)
		}
		out = append(out, m)
	}
	return out
}

// keys maps the base key columns to the partition key values and the given
// clustering prefix; clustering columns past the prefix stay null.
func (t cdcTable) keys(pk, ck [][]byte) map[string][]byte {
	keys := make(map[string][]byte, len(pk)+len(ck))
	for i, c := range t.base.PartitionKey {
		keys[c.Name] = pk[i]
	}
	for i, v := range ck {
		if i < len(t.base.Clustering) {
			keys[t.base.Clustering[i].Name] = v
		}
	}
	return keys
}

// storedRow returns the stored base row ref points to, or nil.
func (t cdcTable) storedRow(key []byte, ref cdcRowRef) *row {
	if t.data == nil {
		return nil
	}
	p := t.data.parts[string(key)]
	if p == nil {
		return nil
	}
	if ref.static {
		return p.static
	}
	i, ok := t.data.findRow(p, ref.ck)
	if !ok {
		return nil
	}
	return p.rows[i]
}

// image renders a stored row's non-key columns in log encoding; nil when the
// row does not exist.
func (t cdcTable) image(r *row) map[string][]byte {
	now := t.now
	if r == nil || !rowLive(r, now) {
		return nil
	}
	img := map[string][]byte{}
	for _, c := range t.base.nonKeyColumns() {
		col := r.cols[c.Name]
		if col == nil {
			continue
		}
		if !c.Type.MultiCell() {
			if col.live(now) {
				img[c.Name] = col.value
			}
			continue
		}
		var elems []cdcElem
		for k, e := range col.elems {
			if e.live(now) {
				elems = append(elems, cdcElem{key: []byte(k), value: e.value})
			}
		}
		if len(elems) > 0 {
			img[c.Name] = cdcFrozen(c.Type, elems)
		}
	}
	return img
}

// cdcElem is one element of a multi-cell column: map key/value, set element
// (value unused), list cell key/value or UDT field index/value.
type cdcElem struct {
	key, value []byte
}

// cdcColumnDelta accumulates what one RowWrite does to one column.
type cdcColumnDelta struct {
	col     *Column
	set     bool // single-cell column written
	value   []byte
	cleared bool
	added   []cdcElem
	removed [][]byte
}

// rowDeltas turns one RowWrite into delta rows. A write with a TTL that also
// nulls columns gives two rows, as in ScyllaDB: only the live cells' row
// carries cdc$ttl.
func (t cdcTable) rowDeltas(w *RowWrite, before *row) []cdc.Delta {
	op := cdc.OpUpdate
	switch {
	case w.Delete && len(w.Cells) == 0:
		return []cdc.Delta{{Op: cdc.OpRowDelete}}
	case w.Marker && !w.Static:
		op = cdc.OpInsert
	}
	cols := t.columnDeltas(w, before)
	live := make(map[string][]byte, len(cols))
	if w.TTL <= 0 {
		// One row: deletions go with the live cells (their log columns differ).
		for i := range cols {
			cols[i].render(live, live)
		}
		return []cdc.Delta{{Op: op, Cells: live}}
	}
	nulls := map[string][]byte{}
	for i := range cols {
		cols[i].render(live, nulls)
	}
	deltas := []cdc.Delta{{Op: op, TTL: int64(w.TTL), Cells: live}}
	if len(nulls) > 0 {
		deltas = append([]cdc.Delta{{Op: op, Cells: nulls}}, deltas...)
	}
	return deltas
}

// columnDeltas groups w's cells by column, in the order the columns first
// appear. A write names few columns: a linear search finds a column's
// delta faster than a map it would have to build.
func (t cdcTable) columnDeltas(w *RowWrite, before *row) []cdcColumnDelta {
	cols := make([]cdcColumnDelta, 0, len(w.Cells))
	for i := range w.Cells {
		cw := &w.Cells[i]
		j := slices.IndexFunc(cols, func(d cdcColumnDelta) bool { return d.col.Name == cw.Column })
		if j < 0 {
			c := t.base.Column(cw.Column)
			if c == nil {
				continue
			}
			j = len(cols)
			cols = append(cols, cdcColumnDelta{col: c})
		}
		cols[j].addCell(cw, before, t.now)
	}
	return cols
}

func (d *cdcColumnDelta) addCell(cw *CellWrite, before *row, now int64) {
	switch cw.Op {
	case CellSet:
		d.set, d.value = true, cw.Value
	case CellClear:
		d.cleared = true
	case CellElement:
		d.element(cw.Key, cw.Value)
	case CellListIndex:
		keys := storedListKeys(before, d.col.Name, now)
		if idx := int(int32(binary.BigEndian.Uint32(cw.Key))); idx >= 0 && idx < len(keys) {
			d.element([]byte(keys[idx]), cw.Value)
		}
	case CellListRemove:
		if before == nil || before.cols[d.col.Name] == nil {
			return
		}
		col := before.cols[d.col.Name]
		for _, k := range storedListKeys(before, d.col.Name, now) {
			if bytes.Equal(col.elems[k].value, cw.Value) {
				d.removed = append(d.removed, []byte(k))
			}
		}
	}
}

func (d *cdcColumnDelta) element(key, value []byte) {
	if value == nil {
		d.removed = append(d.removed, key)
		return
	}
	d.added = append(d.added, cdcElem{key: key, value: value})
}

func storedListKeys(r *row, name string, now int64) []string {
	if r == nil || r.cols[name] == nil {
		return nil
	}
	return liveListKeys(r.cols[name], now)
}

// render writes the column's log cells: live values into live, deletions
// (nulls, tombstones) into nulls.
func (d *cdcColumnDelta) render(live, nulls map[string][]byte) {
	name, t := d.col.Name, d.col.Type
	if !t.MultiCell() {
		if d.set && d.value != nil {
			live[name] = d.value
		} else if d.set {
			nulls[name] = nil
			nulls[cdc.DeletedColumn(name)] = []byte{1}
		}
		return
	}
	if d.cleared {
		nulls[cdc.DeletedColumn(name)] = []byte{1}
	}
	// A UDT written field by field is reported as a whole value with the
	// unwritten fields null, even when the write only removed fields (that
	// value then goes with the deletions: it carries no live cell).
	switch {
	case len(d.added) > 0:
		live[name] = cdcFrozen(t, d.added)
	case t.Kind == KindUDT && len(d.removed) > 0:
		nulls[name] = cdcFrozen(t, nil)
	}
	// An overwrite's removed elements are implied by cdc$deleted_X.
	if len(d.removed) > 0 && !d.cleared {
		nulls[cdc.DeletedElementsColumn(name)] = cdcDeletedElements(t, d.removed)
	}
}

// cdcFrozen encodes the elements of multi-cell type t as its log type:
// frozen sets, maps, lists as map<timeuuid, T>, UDTs with missing fields null.
func cdcFrozen(t *Type, elems []cdcElem) []byte {
	if t.Kind == KindUDT {
		fields := make([][]byte, len(t.Elems))
		for _, e := range elems {
			if i, ok := udtFieldIndex(e.key); ok && i < len(fields) {
				fields[i] = e.value
			}
		}
		return encodeFields(fields)
	}
	keyType := t.Elems[0]
	if t.Kind == KindList {
		keyType = Prim(KindTimeUUID)
	}
	slices.SortFunc(elems, func(a, b cdcElem) int { return compareValues(keyType, a.key, b.key) })
	elems = slices.CompactFunc(elems, func(a, b cdcElem) bool { return bytes.Equal(a.key, b.key) })
	items := make([][]byte, 0, 2*len(elems))
	for _, e := range elems {
		items = append(items, e.key)
		if t.Kind != KindSet {
			items = append(items, e.value)
		}
	}
	return encodeCollection(len(elems), items)
}

// cdcDeletedElements encodes removed element keys as cdc$deleted_elements_X:
// a sorted frozen set (UDT field indices as smallints).
func cdcDeletedElements(t *Type, keys [][]byte) []byte {
	keys = slices.Clone(keys)
	var keyType *Type
	switch t.Kind {
	case KindList:
		keyType = Prim(KindTimeUUID)
	case KindUDT:
		keyType = Prim(KindSmallint)
		for i, k := range keys {
			idx, _ := udtFieldIndex(k)
			keys[i] = binary.BigEndian.AppendUint16(nil, uint16(idx))
		}
	default:
		keyType = t.Elems[0]
	}
	slices.SortFunc(keys, func(a, b []byte) int { return compareValues(keyType, a, b) })
	keys = slices.CompactFunc(keys, bytes.Equal)
	return encodeCollection(len(keys), keys)
}

// udtFieldIndex decodes a UDT element key (a field index as a smallint or int).
func udtFieldIndex(key []byte) (int, bool) {
	switch len(key) {
	case 2:
		return int(int16(binary.BigEndian.Uint16(key))), true
	case 4:
		return int(int32(binary.BigEndian.Uint32(key))), true
	}
	return 0, false
}
