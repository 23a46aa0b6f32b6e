package engine

import (
	"encoding/binary"
	"slices"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

// maxTTL is the largest TTL CQL accepts (20 years).
const maxTTL = 20 * 365 * 24 * 3600

type writeKind uint8

const (
	writeInsert writeKind = iota + 1
	writeUpdate
	writeDelete
)

// cellPlan is one compiled column change.
type cellPlan struct {
	col   *Column
	op    cql.AssignOp
	key   expr // element key: m[k], l[idx]
	field int  // UDT field index, or -1
	val   expr
	del   bool // DELETE target
}

// writePlan is a compiled INSERT, UPDATE or DELETE.
type writePlan struct {
	kind        writeKind
	table       *Table
	where       *whereClause
	cells       []cellPlan
	ttl, ts     expr
	ifNotExists bool
	ifExists    bool
	conds       []*condition
}

func (c *compiler) using(u cql.Using) (ttl, ts expr, err error) {
	if u.TTL != nil {
		if ttl, err = c.term(u.TTL, Prim(KindInt), "[ttl]"); err != nil {
			return nil, nil, err
		}
	}
	if u.Timestamp != nil {
		if ts, err = c.term(u.Timestamp, Prim(KindBigint), "[timestamp]"); err != nil {
			return nil, nil, err
		}
	}
	if u.Timeout != nil {
		if _, err = c.term(u.Timeout, Prim(KindDuration), "[timeout]"); err != nil {
			return nil, nil, err
		}
	}
	return ttl, ts, nil
}

// insertPlan starts the plan of INSERT s into t: its USING clause and
// room for the key restrictions that insertColumn fills.
func (c *compiler) insertPlan(s *cql.InsertStatement, t *Table) (*writePlan, error) {
	p := &writePlan{kind: writeInsert, table: t, ifNotExists: s.IfNotExists,
		where: &whereClause{pk: make([]*restriction, len(t.PartitionKey))}}
	var err error
	if p.ttl, p.ts, err = c.using(s.Using); err != nil {
		return nil, err
	}
	return p, nil
}

// insertColumn makes an INSERT give col the value x: a key column becomes
// an equality restriction, any other a cell to set.
func (p *writePlan) insertColumn(col *Column, x expr) {
	switch col.Kind {
	case PartitionKey:
		p.where.pk[col.Position] = &restriction{cols: []*Column{col}, op: cql.OpEq, vals: []expr{x}, typ: col.Type}
	case ClusteringKey:
		p.where.ck = append(p.where.ck, &restriction{cols: []*Column{col}, op: cql.OpEq, vals: []expr{x}, typ: col.Type})
	default:
		p.cells = append(p.cells, cellPlan{col: col, op: cql.AssignSet, val: x, field: -1})
	}
}

func (c *compiler) insert(s *cql.InsertStatement) (*writePlan, error) {
	t, err := c.e.lookupTable(c.keyspace, s.Table)
	if err != nil {
		return nil, err
	}
	if s.JSON != nil {
		return c.insertJSON(s, t)
	}
	if len(s.Columns) != len(s.Values) {
		return nil, invalidf("Unmatched column names/values")
	}
	p, err := c.insertPlan(s, t)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i, name := range s.Columns {
		col := t.Column(name)
		if col == nil {
			return nil, undefinedColumn(name)
		}
		if seen[name] {
			return nil, invalidf("Multiple definitions found for column %s", name)
		}
		seen[name] = true
		x, err := c.term(s.Values[i], col.Type, col.Name)
		if err != nil {
			return nil, err
		}
		p.insertColumn(col, x)
	}
	for _, col := range t.PartitionKey {
		if !seen[col.Name] {
			return nil, invalidf("Some partition key parts are missing: %s", col.Name)
		}
	}
	for _, col := range t.Clustering {
		// Only static columns may be written without the clustering key.
		if !seen[col.Name] && (len(p.where.ck) > 0 || !p.onlyStatic()) {
			return nil, invalidf("Some clustering keys are missing: %s", col.Name)
		}
	}
	return p, nil
}

func (c *compiler) update(s *cql.UpdateStatement) (*writePlan, error) {
	t, err := c.e.lookupTable(c.keyspace, s.Table)
	if err != nil {
		return nil, err
	}
	p := &writePlan{kind: writeUpdate, table: t, ifExists: s.IfExists}
	if p.ttl, p.ts, err = c.using(s.Using); err != nil {
		return nil, err
	}
	for _, a := range s.Assignments {
		cp, err := c.assignment(t, a)
		if err != nil {
			return nil, err
		}
		p.cells = append(p.cells, cp)
	}
	return c.restrict(p, s.Where, s.Conditions)
}

func (c *compiler) delete(s *cql.DeleteStatement) (*writePlan, error) {
	t, err := c.e.lookupTable(c.keyspace, s.Table)
	if err != nil {
		return nil, err
	}
	p := &writePlan{kind: writeDelete, table: t, ifExists: s.IfExists}
	if s.Using.TTL != nil {
		return nil, invalidf("TTL attribute is not allowed for deletes")
	}
	if p.ttl, p.ts, err = c.using(s.Using); err != nil {
		return nil, err
	}
	for _, d := range s.Columns {
		col := t.Column(d.Column)
		if col == nil {
			return nil, undefinedColumn(d.Column)
		}
		if col.Kind == PartitionKey || col.Kind == ClusteringKey {
			return nil, invalidf("Invalid identifier %s for deletion (should not be a PRIMARY KEY part)", col.Name)
		}
		cp := cellPlan{col: col, del: true, field: -1}
		if d.Key != nil {
			kt, kname := elementKeyType(col)
			if kt == nil {
				return nil, invalidf("Invalid element deletion on column %s of type %s", col.Name, col.Type.CQL())
			}
			if cp.key, err = c.term(d.Key, kt, kname); err != nil {
				return nil, err
			}
		}
		if d.Field != "" {
			if cp.field, err = udtField(col, d.Field); err != nil {
				return nil, err
			}
		}
		p.cells = append(p.cells, cp)
	}
	return c.restrict(p, s.Where, s.Conditions)
}

// restrict completes an UPDATE or DELETE plan with its WHERE clause and its
// IF conditions.
func (c *compiler) restrict(p *writePlan, where []cql.Relation, conds []cql.Condition) (*writePlan, error) {
	if err := c.writeWhere(p, where); err != nil {
		return nil, err
	}
	var err error
	if p.conds, err = c.conditions(p.table, conds); err != nil {
		return nil, err
	}
	return p, nil
}

// elementKeyType is the type of k in col[k]: the map key, or an int index for lists.
func elementKeyType(col *Column) (*Type, string) {
	if col.Type.Frozen {
		return nil, ""
	}
	switch col.Type.Kind {
	case KindMap:
		return col.Type.Elems[0], "key(" + col.Name + ")"
	case KindList:
		return Prim(KindInt), "idx(" + col.Name + ")"
	}
	return nil, ""
}

func udtField(col *Column, field string) (int, error) {
	if col.Type.Kind != KindUDT {
		return -1, invalidf("Invalid field selection: %s of type %s is not a user type", col.Name, col.Type.CQL())
	}
	if col.Type.Frozen {
		return -1, invalidf("Invalid operation for frozen UDT column %s", col.Name)
	}
	i := slices.Index(col.Type.Fields, field)
	if i < 0 {
		return -1, invalidf("UDT column %s does not have a field named %s", col.Name, field)
	}
	return i, nil
}

func (c *compiler) assignment(t *Table, a cql.Assignment) (cellPlan, error) {
	col := t.Column(a.Column)
	if col == nil {
		return cellPlan{}, undefinedColumn(a.Column)
	}
	if col.Kind == PartitionKey || col.Kind == ClusteringKey {
		return cellPlan{}, invalidf("PRIMARY KEY part %s found in SET part", col.Name)
	}
	cp := cellPlan{col: col, op: a.Op, field: -1}
	var err error
	vt, vname := col.Type, col.Name
	switch {
	case a.Key != nil:
		kt, kname := elementKeyType(col)
		if kt == nil {
			return cp, invalidf("Invalid operation (%s[?] = ?) for non-collection column %s", col.Name, col.Name)
		}
		if cp.key, err = c.term(a.Key, kt, kname); err != nil {
			return cp, err
		}
		vt, vname = col.Type.Elems[len(col.Type.Elems)-1], "value("+col.Name+")"
	case a.Field != "":
		if cp.field, err = udtField(col, a.Field); err != nil {
			return cp, err
		}
		vt, vname = col.Type.Elems[cp.field], a.Field
	}
	switch a.Op {
	case cql.AssignAdd, cql.AssignPrepend, cql.AssignSub:
		if col.Type.Kind == KindCounter {
			return cp, unsupported("counter updates")
		}
		if !col.Type.MultiCell() || a.Key != nil || a.Field != "" {
			return cp, invalidf("Invalid operation (%s = %s %s ?) for non-collection column %s", col.Name, col.Name, opSign(a.Op), col.Name)
		}
		if a.Op == cql.AssignPrepend && col.Type.Kind != KindList {
			return cp, invalidf("Invalid operation (%s = ? + %s) for non list column %s", col.Name, col.Name, col.Name)
		}
		if a.Op == cql.AssignSub && col.Type.Kind == KindMap {
			vt = FrozenOf(SetOf(col.Type.Elems[0])) // m = m - {keys}
		}
	}
	cp.val, err = c.term(a.Value, vt, vname)
	return cp, err
}

func opSign(op cql.AssignOp) string {
	if op == cql.AssignSub {
		return "-"
	}
	return "+"
}

// writeWhere compiles UPDATE/DELETE's WHERE: the whole partition key, and
// clustering columns (all of them, or for DELETE a prefix plus a range).
func (c *compiler) writeWhere(p *writePlan, rels []cql.Relation) error {
	w, err := c.where(p.table, rels)
	if err != nil {
		return err
	}
	if len(w.token) > 0 || len(w.others) > 0 {
		return invalidf("Invalid where clause for %s: only primary key columns with = or IN are allowed", p.kindName())
	}
	if !w.pkComplete() {
		return invalidf("Some partition key parts are missing: %s", missingKeys(p.table.PartitionKey, w.pk))
	}
	for _, r := range w.ck {
		if r.tuple {
			return unsupported("multi-column relations in %s", p.kindName())
		}
	}
	p.where = w
	return nil
}

func (p *writePlan) kindName() string {
	switch p.kind {
	case writeInsert:
		return "INSERT"
	case writeUpdate:
		return "UPDATE"
	}
	return "DELETE"
}

func missingKeys(cols []*Column, rs []*restriction) string {
	var names []string
	for i, r := range rs {
		if r == nil {
			names = append(names, cols[i].Name)
		}
	}
	return columnNamesOf(names)
}

func columnNamesOf(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}

// writeTime resolves the statement's timestamp and TTL.
type writeTime struct {
	ts        int64
	ttl       int32
	expiresAt int64
}

func (p *writePlan) times(x *execCtx) (writeTime, error) {
	var wt writeTime
	switch {
	case p.ts != nil:
		v, unset, err := p.ts.eval(x)
		if err != nil {
			return wt, err
		}
		if !unset && v != nil {
			wt.ts = signedBE(v)
			break
		}
		wt.ts = defaultTimestamp(x)
	default:
		wt.ts = defaultTimestamp(x)
	}
	wt.ttl = p.table.Options.DefaultTTL
	if p.ttl != nil {
		v, unset, err := p.ttl.eval(x)
		if err != nil {
			return wt, err
		}
		if !unset && v != nil {
			ttl := signedBE(v)
			if ttl < 0 {
				return wt, invalidf("A TTL must be greater or equal to 0, but was %d", ttl)
			}
			if ttl > maxTTL {
				return wt, invalidf("ttl is too large. requested (%d) maximum (%d)", ttl, maxTTL)
			}
			wt.ttl = int32(ttl)
		}
	}
	if wt.ttl > 0 {
		wt.expiresAt = x.now.UnixNano() + int64(wt.ttl)*1e9
	}
	return wt, nil
}

func defaultTimestamp(x *execCtx) int64 {
	if x.defaultTS != nil {
		return *x.defaultTS
	}
	return x.now.UnixMicro()
}

// writeKeys are the partition keys and clustering rows one execution of a
// write targets. For DELETE, rng holds the clustering range when the
// clustering key is not fully given; cks is nil for a static-only write.
type writeKeys struct {
	pks [][]byte
	cks [][][]byte
	rng *clusteringRange
}

// keys evaluates the keys one execution of the write targets.
func (p *writePlan) keys(x *execCtx) (writeKeys, error) {
	pkb, err := bindAll(x, p.where.pk)
	if err != nil {
		return writeKeys{}, err
	}
	combos := keyValues(pkb)
	pks := make([][]byte, 0, len(combos))
	for _, combo := range combos {
		for _, v := range combo {
			if len(v) > 0xffff {
				return writeKeys{}, invalidf("Key length of %d is longer than maximum of 65535", len(v))
			}
		}
		pks = append(pks, partitionKeyBytes(combo))
	}
	ckb, err := bindAll(x, p.where.ck)
	if err != nil {
		return writeKeys{}, err
	}
	eq := make([]*bound, len(p.table.Clustering))
	var ranges []*bound
	for _, b := range ckb {
		pos := b.r.cols[0].Position
		if (b.r.op == cql.OpEq || b.r.op == cql.OpIn) && eq[pos] == nil {
			eq[pos] = b
		} else {
			ranges = append(ranges, b)
		}
	}
	prefix := 0
	for prefix < len(eq) && eq[prefix] != nil {
		prefix++
	}
	for _, b := range eq[prefix:] {
		if b != nil {
			return writeKeys{}, invalidf("PRIMARY KEY column %q cannot be restricted as preceding column %q is not restricted",
				b.r.cols[0].Name, p.table.Clustering[prefix].Name)
		}
	}
	cks := keyValues(eq[:prefix])
	full := prefix == len(p.table.Clustering)
	if full && len(ranges) == 0 {
		return writeKeys{pks: pks, cks: cks}, nil
	}
	if p.kind != writeDelete || len(p.cells) > 0 {
		if prefix == 0 && len(ranges) == 0 && p.onlyStatic() {
			return writeKeys{pks: pks}, nil
		}
		if p.kind == writeDelete {
			return writeKeys{}, invalidf("Range deletions are not supported for specific columns")
		}
		return writeKeys{}, invalidf("Some clustering keys are missing: %s", p.table.Clustering[prefix].Name)
	}
	if prefix == 0 && len(ranges) == 0 {
		return writeKeys{pks: pks, cks: cks}, nil // whole partition
	}
	rng := &clusteringRange{}
	for _, b := range ranges {
		if full || b.r.cols[0].Position != prefix || b.r.op == cql.OpIn {
			return writeKeys{}, invalidf("Invalid range deletion on %s", b.r.cols[0].Name)
		}
		switch b.r.op {
		case cql.OpGt, cql.OpGte:
			rng.lo, rng.loIncl = b.vals[0], b.r.op == cql.OpGte
		case cql.OpLt, cql.OpLte:
			rng.hi, rng.hiIncl = b.vals[0], b.r.op == cql.OpLte
		}
	}
	return writeKeys{pks: pks, cks: cks, rng: rng}, nil
}

// clusteringRange is a range on the clustering column after an equality prefix.
type clusteringRange struct {
	lo, hi         []byte
	loIncl, hiIncl bool
}

func (p *writePlan) onlyStatic() bool {
	for _, cp := range p.cells {
		if cp.col.Kind != StaticColumn {
			return false
		}
	}
	return len(p.cells) > 0
}

// mutations builds the plan's mutations for one execution, which targets k.
func (p *writePlan) mutations(x *execCtx, k writeKeys, wt writeTime) ([]Mutation, error) {
	pks, cks, rng := k.pks, k.cks, k.rng
	t := p.table
	muts := make([]Mutation, 0, len(pks))
	for _, pk := range pks {
		m := Mutation{Keyspace: t.Keyspace, Table: t.Name, Key: pk, ServerTS: x.serverTS && p.ts == nil}
		switch {
		case p.kind == writeDelete && len(p.cells) == 0 && len(cks) == 1 && len(cks[0]) == 0 && rng == nil:
			m.DeletePartition, m.DeleteTS = true, wt.ts
		case rng != nil:
			for _, ck := range cks {
				m.RangeDeletes = append(m.RangeDeletes, rangeDelete(ck, rng, wt.ts))
			}
		default:
			if err := p.rowWrites(x, &m, cks, wt); err != nil {
				return nil, err
			}
		}
		muts = append(muts, m)
	}
	return muts, nil
}

func rangeDelete(prefix [][]byte, r *clusteringRange, ts int64) RangeDelete {
	rd := RangeDelete{TS: ts, Start: Bound{Prefix: prefix, Inclusive: true}, End: Bound{Prefix: prefix, Inclusive: true}}
	if r.lo != nil {
		rd.Start = Bound{Prefix: append(slices.Clone(prefix), r.lo), Inclusive: r.loIncl}
	}
	if r.hi != nil {
		rd.End = Bound{Prefix: append(slices.Clone(prefix), r.hi), Inclusive: r.hiIncl}
	}
	return rd
}

func (p *writePlan) rowWrites(x *execCtx, m *Mutation, cks [][][]byte, wt writeTime) error {
	var static, regular []CellWrite
	for _, cp := range p.cells {
		dst := &regular
		if cp.col.Kind == StaticColumn {
			dst = &static
		}
		if *dst == nil {
			*dst = make([]CellWrite, 0, len(p.cells)) // one per column in the common case
		}
		var err error
		if *dst, err = cp.appendCellWrites(x, *dst); err != nil {
			return err
		}
	}
	base := RowWrite{TS: wt.ts, TTL: wt.ttl, ExpiresAt: wt.expiresAt}
	if len(static) > 0 {
		sw := base
		sw.Static, sw.Cells = true, static
		m.Rows = append(m.Rows, sw)
	}
	if cks == nil {
		return nil // static-only write
	}
	for _, ck := range cks {
		rw := base
		rw.Clustering = ck
		rw.Cells = regular
		rw.Marker = p.kind == writeInsert
		rw.Delete = p.kind == writeDelete && len(p.cells) == 0
		if len(rw.Cells) == 0 && !rw.Marker && !rw.Delete {
			continue
		}
		m.Rows = append(m.Rows, rw)
	}
	return nil
}

// appendCellWrites appends the cell operations of one column change to out.
func (cp *cellPlan) appendCellWrites(x *execCtx, out []CellWrite) ([]CellWrite, error) {
	name := cp.col.Name
	t := cp.col.Type
	var key []byte
	if cp.key != nil {
		k, unset, err := cp.key.eval(x)
		if err != nil {
			return out, err
		}
		if unset || k == nil {
			return out, invalidf("Invalid null or unset key for %s", name)
		}
		key = k
	}
	if cp.field >= 0 {
		key = binary.BigEndian.AppendUint16(nil, uint16(cp.field))
	}
	if cp.del {
		switch {
		case cp.key != nil && t.Kind == KindList:
			return append(out, CellWrite{Column: name, Op: CellListIndex, Key: key}), nil
		case key != nil:
			return append(out, CellWrite{Column: name, Op: CellElement, Key: key}), nil
		case t.MultiCell():
			return append(out, CellWrite{Column: name, Op: CellClear}), nil
		}
		return append(out, CellWrite{Column: name, Op: CellSet}), nil
	}
	val, unset, err := cp.val.eval(x)
	if err != nil {
		return out, err
	}
	if unset {
		return out, nil
	}
	switch {
	case cp.key != nil && t.Kind == KindList:
		return append(out, CellWrite{Column: name, Op: CellListIndex, Key: key, Value: val}), nil
	case key != nil:
		return append(out, CellWrite{Column: name, Op: CellElement, Key: key, Value: val}), nil
	case !t.MultiCell():
		return append(out, CellWrite{Column: name, Op: CellSet, Value: val}), nil
	}
	if cp.op == cql.AssignSet {
		out = append(out, CellWrite{Column: name, Op: CellClear})
	}
	if val == nil {
		return out, nil
	}
	if t.Kind == KindUDT {
		fields, _ := decodeFields(val)
		for i := range t.Elems {
			var f []byte
			if i < len(fields) {
				f = fields[i]
			}
			out = append(out, CellWrite{Column: name, Op: CellElement, Key: binary.BigEndian.AppendUint16(nil, uint16(i)), Value: f})
		}
		return out, nil
	}
	items, _ := decodeCollection(val)
	switch {
	case t.Kind == KindMap && cp.op == cql.AssignSub:
		for _, k := range items {
			out = append(out, CellWrite{Column: name, Op: CellElement, Key: k})
		}
	case t.Kind == KindMap:
		for i := 0; i+1 < len(items); i += 2 {
			out = append(out, CellWrite{Column: name, Op: CellElement, Key: items[i], Value: items[i+1]})
		}
	case t.Kind == KindSet:
		for _, it := range items {
			var v []byte
			if cp.op != cql.AssignSub {
				v = []byte{}
			}
			out = append(out, CellWrite{Column: name, Op: CellElement, Key: it, Value: v})
		}
	case cp.op == cql.AssignSub:
		for _, it := range items {
			out = append(out, CellWrite{Column: name, Op: CellListRemove, Value: it})
		}
	default:
		keys := listKeys(len(items), cp.op == cql.AssignPrepend, x)
		for i, it := range items {
			out = append(out, CellWrite{Column: name, Op: CellElement, Key: keys[i], Value: it})
		}
	}
	return out, nil
}

// prependEpoch anchors prepended list keys: their timestamps count down
// from it, so later prepends sort first (as Cassandra's PrecisionTime does).
const prependEpoch = int64(0x01B21DD213814000) + 1262304000*1e7 // 2010-01-01 in 100 ns since 1582

// listKeys returns n increasing timeuuid keys for list elements, from a
// clock that never repeats so that successive appends keep their order.
func listKeys(n int, prepend bool, x *execCtx) [][]byte {
	keys := make([][]byte, n)
	node := uuid.New()
	floor := x.now.UnixNano()/100 + uuidEpochOffset
	var start int64
	for {
		last := x.e.listClock.Load()
		start = max(last+1, floor)
		if x.e.listClock.CompareAndSwap(last, start+int64(n)-1) {
			break
		}
	}
	for i := range keys {
		t := start + int64(i)
		if prepend {
			t = prependEpoch - (start - prependEpoch) - int64(n-i)
		}
		k := timeUUIDAt(t, 0)
		copy(k[8:], node[8:])
		k[8] = k[8]&0x3f | 0x80
		keys[i] = k
	}
	return keys
}
