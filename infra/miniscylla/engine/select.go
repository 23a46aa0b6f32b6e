package engine

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/datastax/go-cassandra-native-protocol/message"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

const filteringMsg = "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. " +
	"If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING"

// selector computes one output column from a row.
type selector struct {
	name string
	typ  *Type
	get  func(x *execCtx, v *rowView) ([]byte, error)
	// agg makes the selector an aggregate over all rows (COUNT, MIN, MAX).
	agg func() aggregate
}

// selectPlan is a compiled SELECT.
type selectPlan struct {
	table     *Table
	where     *whereClause
	filters   []*restriction // restrictions checked row by row
	distinct  bool
	json      bool      // SELECT JSON: one [json] text column per row
	aggregate bool      // one result row folding every matching row
	groupBy   []*Column // GROUP BY: one result row per group (groupby.go)
	reverse   bool
	selectors []selector
	limit     expr
	ppl       expr
	meta      []*message.ColumnMetadata
}

func (c *compiler) selectStmt(s *cql.SelectStatement) (*selectPlan, error) {
	t, err := c.e.lookupTable(c.keyspace, s.Table)
	if err != nil {
		return nil, err
	}
	p := &selectPlan{table: t, distinct: s.Distinct, json: s.JSON}
	if err := c.selectors(p, s); err != nil {
		return nil, err
	}
	if p.where, err = c.where(t, s.Where); err != nil {
		return nil, err
	}
	w := p.where
	if !w.pkComplete() {
		for _, r := range w.pk {
			if r != nil {
				w.others = append(w.others, r)
			}
		}
		w.pk = nil
	}
	p.filters = append(p.filters, w.others...)
	if len(w.others) > 0 && !s.AllowFiltering && t.rows == nil {
		return nil, invalidf(filteringMsg)
	}
	if err := c.orderBy(p, s.OrderBy); err != nil {
		return nil, err
	}
	if s.Limit != nil {
		if p.limit, err = c.term(s.Limit, Prim(KindInt), "[limit]"); err != nil {
			return nil, err
		}
	}
	if s.PerPartitionLimit != nil {
		if p.ppl, err = c.term(s.PerPartitionLimit, Prim(KindInt), "[per_partition_limit]"); err != nil {
			return nil, err
		}
	}
	if len(s.GroupBy) > 0 {
		if err := c.groupBy(p, s.GroupBy); err != nil {
			return nil, err
		}
	}
	if s.Timeout != nil {
		if _, err = c.term(s.Timeout, Prim(KindDuration), "[timeout]"); err != nil {
			return nil, err
		}
	}
	if p.json {
		p.meta = []*message.ColumnMetadata{{Keyspace: t.Keyspace, Table: t.Name, Name: jsonColumn, Type: Prim(KindText).DataType()}}
		return p, nil
	}
	p.meta = make([]*message.ColumnMetadata, len(p.selectors))
	for i, sel := range p.selectors {
		p.meta[i] = &message.ColumnMetadata{Keyspace: t.Keyspace, Table: t.Name, Name: sel.name, Index: int32(i), Type: sel.typ.DataType()}
	}
	return p, nil
}

func (c *compiler) orderBy(p *selectPlan, order []cql.Ordering) error {
	if len(order) == 0 {
		return nil
	}
	if p.where.pk == nil {
		return invalidf("ORDER BY is only supported when the partition key is restricted by an EQ or an IN.")
	}
	for i, o := range order {
		col := p.table.Column(o.Column)
		if col == nil {
			return undefinedColumn(o.Column)
		}
		if col.Kind != ClusteringKey || col.Position != i {
			return invalidf("Order by currently only supports the ordering of columns following their declared order in the PRIMARY KEY")
		}
		rev := o.Descending != col.Desc
		if i == 0 {
			p.reverse = rev
		} else if rev != p.reverse {
			return invalidf("Unsupported order by relation")
		}
	}
	return nil
}

func (c *compiler) selectors(p *selectPlan, s *cql.SelectStatement) error {
	t := p.table
	if s.Selectors == nil {
		cols := t.Columns
		if s.Distinct {
			return invalidf("SELECT DISTINCT queries must only request partition key columns and/or static columns (not *)")
		}
		for _, col := range cols {
			p.selectors = append(p.selectors, columnSelector(col, col.Name))
		}
		return nil
	}
	for _, sel := range s.Selectors {
		out, err := c.selector(p, sel.Expr)
		if err != nil {
			return err
		}
		if sel.Alias != "" {
			out.name = sel.Alias
		}
		if s.Distinct {
			if sc, ok := sel.Expr.(*cql.SelectColumn); ok {
				if col := t.Column(sc.Name); col.Kind != PartitionKey && col.Kind != StaticColumn {
					return invalidf("SELECT DISTINCT queries must only request partition key columns and/or static columns (not %s)", col.Name)
				}
			}
		}
		p.selectors = append(p.selectors, out)
		p.aggregate = p.aggregate || out.agg != nil
	}
	return nil
}

func columnSelector(col *Column, name string) selector {
	return selector{name: name, typ: col.Type, get: func(_ *execCtx, v *rowView) ([]byte, error) { return v.value(col), nil }}
}

func (c *compiler) selector(p *selectPlan, s cql.Selectable) (selector, error) {
	t := p.table
	switch v := s.(type) {
	case *cql.SelectColumn:
		col := t.Column(v.Name)
		if col == nil {
			return selector{}, undefinedColumn(v.Name)
		}
		if v.Field == "" {
			return columnSelector(col, col.Name), nil
		}
		i := -1
		if col.Type.Kind == KindUDT {
			i = fieldIndex(col.Type, v.Field)
		}
		if i < 0 {
			return selector{}, invalidf("Invalid field selection: %s has no field %s", col.Name, v.Field)
		}
		return selector{name: col.Name + "." + v.Field, typ: col.Type.Elems[i], get: func(_ *execCtx, rv *rowView) ([]byte, error) {
			fields, _ := decodeFields(rv.value(col))
			if i < len(fields) {
				return fields[i], nil
			}
			return nil, nil
		}}, nil
	case *cql.SelectCount:
		return countAll(), nil
	case *cql.SelectWriteTime, *cql.SelectTTL:
		return c.cellMetaSelector(t, v)
	case *cql.SelectFunction:
		return c.functionSelector(p, v)
	case *cql.SelectTerm:
		return selector{}, unsupported("constant selectors")
	}
	return selector{}, unsupported("selector %T", s)
}

func (c *compiler) cellMetaSelector(t *Table, s cql.Selectable) (selector, error) {
	name, fn := "", "writetime"
	if w, ok := s.(*cql.SelectWriteTime); ok {
		name = w.Column
	} else {
		name, fn = s.(*cql.SelectTTL).Column, "ttl"
	}
	col := t.Column(name)
	if col == nil {
		return selector{}, undefinedColumn(name)
	}
	if col.Kind == PartitionKey || col.Kind == ClusteringKey {
		return selector{}, invalidf("Cannot use selection function %s on PRIMARY KEY part %s", fn, col.Name)
	}
	if col.Type.MultiCell() {
		return selector{}, invalidf("Cannot use selection function %s on non-frozen collection %s", fn, col.Name)
	}
	if fn == "writetime" {
		return selector{name: "writetime(" + col.Name + ")", typ: Prim(KindBigint), get: func(_ *execCtx, v *rowView) ([]byte, error) {
			if c := v.liveCell(col); c != nil {
				return encBigint(c.ts), nil
			}
			return nil, nil
		}}, nil
	}
	return selector{name: "ttl(" + col.Name + ")", typ: Prim(KindInt), get: func(_ *execCtx, v *rowView) ([]byte, error) {
		c := v.liveCell(col)
		if c == nil || c.expires == 0 {
			return nil, nil
		}
		left := (c.expires - v.now + 1e9 - 1) / 1e9
		return encInt(int32(left)), nil
	}}, nil
}

func (c *compiler) functionSelector(p *selectPlan, f *cql.SelectFunction) (selector, error) {
	if f.Name == "token" {
		return tokenSelector(p.table, f)
	}
	if sel, ok, err := c.aggregateSelector(p, f); ok {
		return sel, err
	}
	ft, ok := functionTypes[f.Name]
	if !ok {
		return selector{}, unsupported("function %s", f.Name)
	}
	if len(f.Args) != len(ft.args) {
		return selector{}, invalidf("Invalid number of arguments in call to function %s: %d required but %d provided", f.Name, len(ft.args), len(f.Args))
	}
	args := make([]selector, len(f.Args))
	names := make([]string, len(f.Args))
	for i, a := range f.Args {
		if st, isTerm := a.(*cql.SelectTerm); isTerm {
			x, err := c.term(st.Term, ft.args[i], fmt.Sprintf("arg%d(%s)", i, f.Name))
			if err != nil {
				return selector{}, err
			}
			args[i] = selector{get: func(ctx *execCtx, _ *rowView) ([]byte, error) {
				v, _, err := x.eval(ctx)
				return v, err
			}}
			names[i] = "?"
			continue
		}
		s, err := c.selector(p, a)
		if err != nil {
			return selector{}, err
		}
		args[i], names[i] = s, s.name
	}
	return selector{
		name: "system." + f.Name + "(" + strings.Join(names, ", ") + ")",
		typ:  ft.result,
		get: func(x *execCtx, v *rowView) ([]byte, error) {
			vals := make([][]byte, len(args))
			for i, a := range args {
				val, err := a.get(x, v)
				if err != nil {
					return nil, err
				}
				vals[i] = val
			}
			out, _, err := callFunction(f.Name, vals, x.now)
			return out, err
		},
	}, nil
}

// selectRun is the state of one execution of a selectPlan.
type selectRun struct {
	p        *selectPlan
	x        *execCtx
	td       *tableData
	ck       []*bound
	filters  []*bound
	tokens   []*bound
	limit    int
	ppl      int
	pageSize int
	resume   *pagingState
	rows     [][][]byte
	aggs     []aggregate // per selector when aggregating; nil entries take the first row's value
	first    [][]byte
	last     *pagingState
	// GROUP BY state: the open group's key and the position of its last row.
	groupOpen bool
	curGroup  []byte
	groupEnd  *pagingState
	// scannedParts and scannedRows count what the run looked at, for tracing.
	scannedParts, scannedRows int
	more                      bool
	// seq is the highest write-ahead log record among what the run
	// looked at: the result is durable once that record is.
	seq uint64
}

// run executes the plan; the caller holds the engine's read lock. It raises
// *seq to the highest log record the result depends on (storage.go).
func (p *selectPlan) run(x *execCtx, td *tableData, pageSize int32, paging []byte, seq *uint64) (*message.RowsResult, error) {
	r := &selectRun{p: p, x: x, td: td, limit: -1, ppl: -1, pageSize: int(pageSize), seq: *seq}
	defer func() { *seq = r.seq }()
	var err error
	if r.ck, err = bindAll(x, p.where.ck); err != nil {
		return nil, err
	}
	if r.filters, err = bindAll(x, p.filters); err != nil {
		return nil, err
	}
	if r.tokens, err = bindAll(x, p.where.token); err != nil {
		return nil, err
	}
	if r.limit, err = intOption(x, p.limit, "LIMIT"); err != nil {
		return nil, err
	}
	if r.ppl, err = intOption(x, p.ppl, "PER PARTITION LIMIT"); err != nil {
		return nil, err
	}
	if p.groupBy != nil {
		r.aggs = make([]aggregate, len(p.selectors))
	} else if p.aggregate {
		r.pageSize = 0
		r.aggs = make([]aggregate, len(p.selectors))
		for i, s := range p.selectors {
			if s.agg != nil {
				r.aggs[i] = s.agg()
			}
		}
	}
	if len(paging) > 0 {
		if r.resume, err = decodePagingState(paging, p.table); err != nil {
			return nil, err
		}
	}
	parts, err := r.partitions()
	if err != nil {
		return nil, err
	}
	finished := true
	for _, part := range parts {
		if done, err := r.scanPartition(part); err != nil || done {
			if err != nil {
				return nil, err
			}
			finished = false
			break
		}
	}
	if finished && r.groupOpen {
		r.flushGroup()
	}
	res := r.result()
	if x.trace != nil { // the event's arguments allocate: build them only when traced
		x.trace.event("Read %d live row(s) from %d partition(s) of %s.%s; returning %d row(s), more pages: %t",
			r.scannedRows, r.scannedParts, p.table.Keyspace, p.table.Name, len(res.Data), res.Metadata.PagingState != nil)
	}
	return res, nil
}

func intOption(x *execCtx, e expr, what string) (int, error) {
	if e == nil {
		return -1, nil
	}
	v, unset, err := e.eval(x)
	if err != nil || unset || v == nil {
		return -1, err
	}
	n := signedBE(v)
	if n <= 0 {
		return 0, invalidf("%s must be strictly positive", what)
	}
	return int(n), nil
}

// partitions lists the partitions to scan, in token order.
func (r *selectRun) partitions() ([]*partition, error) {
	w := r.p.where
	if w.pk == nil {
		all := r.td.ordered()
		if r.resume != nil {
			probe := &partition{key: r.resume.key, token: r.resume.token}
			i, _ := slices.BinarySearchFunc(all, probe, func(a, b *partition) int {
				if partitionLess(a, b) {
					return -1
				}
				if partitionLess(b, a) {
					return 1
				}
				return 0
			})
			all = all[i:]
		}
		return all, nil
	}
	bs, err := bindAll(r.x, w.pk)
	if err != nil {
		return nil, err
	}
	var parts []*partition
	for _, combo := range keyValues(bs) {
		key := partitionKeyBytes(combo)
		if p, ok := r.td.parts[string(key)]; ok && !slices.Contains(parts, p) {
			parts = append(parts, p)
		}
	}
	slices.SortFunc(parts, func(a, b *partition) int {
		if partitionLess(a, b) {
			return -1
		}
		return 1
	})
	if r.resume != nil {
		probe := &partition{key: r.resume.key, token: r.resume.token}
		for len(parts) > 0 && partitionLess(parts[0], probe) {
			parts = parts[1:]
		}
	}
	return parts, nil
}

// scanPartition emits part's matching rows; done reports that the page or
// the limit is full.
func (r *selectRun) scanPartition(part *partition) (done bool, err error) {
	now := r.x.now.UnixNano()
	pkVals, ok := splitPartitionKey(part.key, len(r.p.table.PartitionKey))
	if !ok {
		return false, nil
	}
	for _, tb := range r.tokens {
		if !tb.matches(encBigint(part.token)) {
			return false, nil
		}
	}
	v := &rowView{p: part, pkVals: pkVals, now: now}
	inPart := 0
	var afterCK [][]byte
	if r.resume != nil && bytes.Equal(r.resume.key, part.key) {
		if r.resume.finished {
			return false, nil
		}
		inPart, afterCK = r.resume.inPartition, r.resume.ck
	}
	r.scannedParts++
	from, to := r.window(part)
	rows := part.rows[from:to]
	r.saw(part, rows)
	if r.p.reverse {
		rows = slices.Clone(rows)
		slices.Reverse(rows)
	}
	anyLive := false
	for _, rw := range rows {
		if afterCK != nil {
			c := r.td.order.compare(rw.ck, afterCK)
			if (!r.p.reverse && c <= 0) || (r.p.reverse && c >= 0) {
				continue
			}
		}
		if !rowLive(rw, now) {
			continue
		}
		anyLive = true
		r.scannedRows++
		v.r = rw
		match, err := r.matches(v)
		if err != nil || !match {
			if err != nil {
				return false, err
			}
			continue
		}
		if r.ppl >= 0 && inPart >= r.ppl {
			break
		}
		if done, err := r.emit(v, inPart); err != nil || done {
			return done, err
		}
		inPart++
		if r.p.distinct {
			break
		}
	}
	if anyLive || afterCK != nil || len(r.ck) > 0 || (len(rows) > 0 && hasLiveRow(part.rows, now)) {
		return false, nil
	}
	// A partition with only static data still yields one row.
	r.saw(part, part.rows)
	if part.static == nil || !rowLive(part.static, now) {
		return false, nil
	}
	v.r = nil
	if match, err := r.matches(v); err != nil || !match {
		return false, err
	}
	return r.emit(v, inPart)
}

func (r *selectRun) matches(v *rowView) (bool, error) {
	for _, b := range r.ck {
		if v.r == nil {
			return false, nil
		}
		var got []byte
		if b.r.tuple {
			got = encodeFields(v.r.ck[:len(b.r.cols)])
		} else {
			got = v.r.ck[b.r.cols[0].Position]
		}
		if !b.matches(got) {
			return false, nil
		}
	}
	for _, b := range r.filters {
		if !b.matches(v.value(b.r.cols[0])) {
			return false, nil
		}
	}
	return true, nil
}

// emit adds the row to the page; done reports that no more rows are wanted.
func (r *selectRun) emit(v *rowView, inPart int) (bool, error) {
	if r.p.groupBy != nil {
		return r.group(v, inPart)
	}
	if r.p.aggregate {
		return false, r.fold(v)
	}
	if r.pageSize > 0 && len(r.rows) == r.pageSize {
		r.more = true
		return true, nil
	}
	if r.limit >= 0 && r.resume != nil && r.resume.emitted+len(r.rows) >= r.limit {
		return true, nil
	}
	out := make([][]byte, len(r.p.selectors))
	for i, s := range r.p.selectors {
		val, err := s.get(r.x, v)
		if err != nil {
			return false, err
		}
		out[i] = val
	}
	r.rows = append(r.rows, out)
	// Only the last row's position is ever used: one state serves them all.
	if r.last == nil {
		r.last = new(pagingState)
	}
	*r.last = r.position(v, inPart+1, len(r.rows))
	return r.limit >= 0 && r.last.emitted >= r.limit, nil
}

// position is the paging state after the row v, the inPart-th returned
// from its partition and the n-th of this page.
func (r *selectRun) position(v *rowView, inPart, n int) pagingState {
	st := pagingState{token: v.p.token, key: v.p.key, inPartition: inPart, emitted: n}
	if r.resume != nil {
		st.emitted += r.resume.emitted
	}
	// The partition has no row after this one that the query may return.
	st.finished = v.r == nil || len(r.p.table.Clustering) == 0 || r.p.distinct || (r.ppl >= 0 && inPart >= r.ppl)
	if !st.finished {
		st.ck = v.r.ck
	}
	return st
}

func (r *selectRun) result() *message.RowsResult {
	meta := &message.RowsMetadata{ColumnCount: int32(len(r.p.meta)), Columns: r.p.meta}
	if r.p.aggregate && r.p.groupBy == nil {
		return &message.RowsResult{Metadata: meta, Data: r.p.output(message.RowSet{r.aggregateRow()})}
	}
	if r.more && r.last != nil {
		meta.PagingState = r.last.encode()
	}
	return &message.RowsResult{Metadata: meta, Data: r.p.output(r.rows)}
}

// aggregateRow is the result row of the rows folded so far: aggregates,
// and the first row's value for plain selectors.
func (r *selectRun) aggregateRow() [][]byte {
	row := make([][]byte, len(r.p.selectors))
	for i, a := range r.aggs {
		if a != nil {
			row[i] = a.result()
		} else if r.first != nil {
			row[i] = r.first[i]
		}
	}
	return row
}

// output renders rows as the client sees them: as is, or as JSON documents.
func (p *selectPlan) output(rows message.RowSet) message.RowSet {
	if !p.json {
		return rows
	}
	for i, row := range rows {
		rows[i] = [][]byte{p.renderJSONRow(row)}
	}
	return rows
}

// saw raises r.seq to the log records of part's own state and of rows.
func (r *selectRun) saw(part *partition, rows []*row) {
	r.seq = max(r.seq, part.seq)
	for _, rw := range rows {
		r.seq = max(r.seq, rw.seq)
	}
}

func hasLiveRow(rows []*row, now int64) bool {
	return slices.ContainsFunc(rows, func(r *row) bool { return rowLive(r, now) })
}

// tokenSelector is token(pk...): the partition's Murmur3 token.
func tokenSelector(t *Table, f *cql.SelectFunction) (selector, error) {
	names := make([]string, len(f.Args))
	for i, a := range f.Args {
		sc, ok := a.(*cql.SelectColumn)
		if !ok || i >= len(t.PartitionKey) || t.PartitionKey[i].Name != sc.Name {
			return selector{}, invalidf("The token function arguments must be in the partition key order: %s", columnNames(t.PartitionKey))
		}
		names[i] = sc.Name
	}
	if len(names) != len(t.PartitionKey) {
		return selector{}, invalidf("The token function arguments must be in the partition key order: %s", columnNames(t.PartitionKey))
	}
	return selector{name: "system.token(" + strings.Join(names, ", ") + ")", typ: Prim(KindBigint),
		get: func(_ *execCtx, v *rowView) ([]byte, error) { return encBigint(v.p.token), nil }}, nil
}

// window narrows part's rows to those the restrictions on the first
// clustering column allow, by binary search in stored order. The rows in
// the window are still checked against every restriction.
func (r *selectRun) window(part *partition) (from, to int) {
	from, to = 0, len(part.rows)
	if len(r.p.table.Clustering) == 0 {
		return from, to
	}
	first := r.p.table.Clustering[0]
	rows := part.rows
	// cut returns the first stored index whose value v satisfies pred(compare(v, bound)).
	cut := func(bound []byte, pred func(int) bool) int {
		return sort.Search(len(rows), func(i int) bool { return pred(compareValues(first.Type, rows[i].ck[0], bound)) })
	}
	lower := func(v []byte, incl bool) { // keep values >= v (> v)
		if first.Desc {
			to = min(to, cut(v, func(c int) bool { return c < 0 || (!incl && c == 0) }))
		} else {
			from = max(from, cut(v, func(c int) bool { return c > 0 || (incl && c == 0) }))
		}
	}
	upper := func(v []byte, incl bool) { // keep values <= v (< v)
		if first.Desc {
			from = max(from, cut(v, func(c int) bool { return c < 0 || (incl && c == 0) }))
		} else {
			to = min(to, cut(v, func(c int) bool { return c > 0 || (!incl && c == 0) }))
		}
	}
	for _, b := range r.ck {
		if b.r.tuple || b.r.cols[0] != first || len(b.vals) != 1 || b.vals[0] == nil {
			continue
		}
		switch v := b.vals[0]; b.r.op {
		case cql.OpEq:
			lower(v, true)
			upper(v, true)
		case cql.OpGt, cql.OpGte:
			lower(v, b.r.op == cql.OpGte)
		case cql.OpLt, cql.OpLte:
			upper(v, b.r.op == cql.OpLte)
		}
	}
	if from > to {
		from = to
	}
	return from, to
}

// fold adds a matching row to the aggregates; plain selectors keep the
// first row's values, as ScyllaDB does.
func (r *selectRun) fold(v *rowView) error {
	keep := r.first == nil
	if keep {
		r.first = make([][]byte, len(r.p.selectors))
	}
	for i, s := range r.p.selectors {
		if r.aggs[i] == nil && !keep {
			continue
		}
		val, err := s.get(r.x, v)
		if err != nil {
			return err
		}
		if r.aggs[i] != nil {
			r.aggs[i].add(val)
		} else {
			r.first[i] = val
		}
	}
	return nil
}
