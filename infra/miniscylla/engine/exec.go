package engine

import (
	"context"
	"crypto/md5"
	"errors"
	"slices"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

// maxPrepared bounds the prepared statement cache.
const maxPrepared = 10000

// compiled is a parsed and planned statement, cached by prepared id.
type compiled struct {
	id      [16]byte
	stmt    cql.Statement
	markers []marker
	pkIdx   []uint16
	sel     *selectPlan
	writes  []*writePlan // one for INSERT/UPDATE/DELETE, several for a batch
	batchTS expr         // BEGIN BATCH USING TIMESTAMP (applied to all children)
	query   string       // the statement text, logged for schema changes
}

// compile parses and plans query for a session whose keyspace is ks.
func (e *Engine) compile(ks, query string) (*compiled, error) {
	parsed, err := cql.ParseQuery(query)
	if err != nil {
		return nil, parseError(err)
	}
	c := &compiler{e: e, keyspace: ks, markers: make([]marker, len(parsed.Markers))}
	for i, m := range parsed.Markers {
		c.markers[i] = marker{name: m.Name, typ: Prim(KindBlob)}
	}
	out := &compiled{stmt: parsed.Statement, id: preparedID(ks, query), query: query}
	switch s := parsed.Statement.(type) {
	case *cql.SelectStatement:
		if out.sel, err = c.selectStmt(s); err == nil {
			out.pkIdx = pkIndexes(out.sel.table, out.sel.where)
		}
	case *cql.InsertStatement, *cql.UpdateStatement, *cql.DeleteStatement:
		var w *writePlan
		if w, err = c.writeStmt(s); err == nil {
			out.writes = []*writePlan{w}
			out.pkIdx = pkIndexes(w.table, w.where)
		}
	case *cql.BatchStatement:
		err = c.batchStmt(out, s)
	}
	if err != nil {
		return nil, err
	}
	out.markers = c.markers
	return out, nil
}

func (c *compiler) writeStmt(s cql.Statement) (*writePlan, error) {
	var (
		w   *writePlan
		err error
	)
	switch s := s.(type) {
	case *cql.InsertStatement:
		w, err = c.insert(s)
	case *cql.UpdateStatement:
		w, err = c.update(s)
	case *cql.DeleteStatement:
		w, err = c.delete(s)
	default:
		return nil, invalidf("Only INSERT, UPDATE and DELETE statements are allowed in a batch")
	}
	if err != nil {
		return nil, err
	}
	if w.table.rows != nil {
		return nil, invalidf("Cannot modify system table %s.%s", w.table.Keyspace, w.table.Name)
	}
	return w, w.checkConditional()
}

func (c *compiler) batchStmt(out *compiled, s *cql.BatchStatement) error {
	if s.Kind == cql.BatchCounter {
		return unsupported("counter batches")
	}
	if s.Using.TTL != nil {
		return invalidf("Global TTL on the BATCH statement is not supported.")
	}
	var err error
	if _, out.batchTS, err = c.using(s.Using); err != nil {
		return err
	}
	for _, st := range s.Statements {
		w, err := c.writeStmt(st)
		if err != nil {
			return err
		}
		out.writes = append(out.writes, w)
	}
	return checkConditionalBatch(out.writes, s.Using.Timestamp != nil)
}

func parseError(err error) error {
	var se *cql.SyntaxError
	if errors.As(err, &se) {
		return syntaxf("%s", se.Error())
	}
	var ue *cql.UnsupportedError
	if errors.As(err, &ue) {
		return invalidf("%s", ue.Error())
	}
	var ie *cql.InvalidError
	if errors.As(err, &ie) {
		return invalidf("%s", ie.Error())
	}
	return syntaxf("%s", err.Error())
}

func preparedID(ks, query string) [16]byte {
	return md5.Sum([]byte(ks + query))
}

// pkIndexes gives, per partition key column, the index of the bind marker
// that supplies it, when every key column comes from a plain `= ?`.
func pkIndexes(t *Table, w *whereClause) []uint16 {
	if w == nil || w.pk == nil {
		return nil
	}
	out := make([]uint16, 0, len(w.pk))
	for _, r := range w.pk {
		if r == nil || r.op != cql.OpEq || len(r.vals) != 1 {
			return nil
		}
		m, ok := r.vals[0].(markerExpr)
		if !ok {
			return nil
		}
		out = append(out, uint16(m.idx))
	}
	if len(out) != len(t.PartitionKey) {
		return nil
	}
	return out
}

// lookupTable resolves a table name for a session keyspace.
func (e *Engine) lookupTable(ks string, name cql.TableName) (*Table, error) {
	if name.Keyspace != "" {
		ks = name.Keyspace
	}
	if ks == "" {
		return nil, invalidf("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	k, ok := e.keyspaces[ks]
	if !ok {
		return nil, invalidf("Keyspace %s does not exist", ks)
	}
	t, ok := k.Tables[name.Name]
	if !ok {
		return nil, unconfiguredTable(ks, name.Name)
	}
	return t, nil
}

func (e *Engine) newCtx(opts *message.QueryOptions, c *compiled) (*execCtx, error) {
	x := &execCtx{e: e, now: e.cfg.Now()}
	if opts == nil {
		return x, nil
	}
	x.defaultTS = opts.DefaultTimestamp
	vals, err := bindValues(c.markers, opts)
	if err != nil {
		return nil, err
	}
	x.values = vals
	return x, nil
}

// bindValues matches the request's values to the statement's markers:
// positionally, or by marker name for named values.
func bindValues(markers []marker, opts *message.QueryOptions) ([]*primitive.Value, error) {
	if len(opts.NamedValues) > 0 && len(opts.PositionalValues) == 0 {
		vals := make([]*primitive.Value, len(markers))
		for i, m := range markers {
			v, ok := opts.NamedValues[m.name]
			if !ok {
				return nil, invalidf("Missing value for bind variable %s", m.name)
			}
			vals[i] = v
		}
		return vals, nil
	}
	if len(opts.PositionalValues) != len(markers) {
		return nil, invalidf("There were %d markers(?) in CQL but %d bound variables", len(markers), len(opts.PositionalValues))
	}
	return opts.PositionalValues, nil
}

func (e *Engine) query(ctx context.Context, sess *Session, q *message.Query) (message.Message, error) {
	tracerFrom(ctx).event("Parsing a statement")
	c, err := e.compile(sess.Keyspace, q.Query)
	if err != nil {
		return nil, err
	}
	tracerFrom(ctx).event("Processing a statement")
	return e.run(ctx, sess, c, q.Options)
}

func (e *Engine) prepare(sess *Session, query string) (message.Message, error) {
	c, err := e.compile(sess.Keyspace, query)
	if err != nil {
		return nil, err
	}
	e.prepMu.Lock()
	if len(e.prepared) >= maxPrepared {
		// Drivers prepare every DML string, literals included: evict an
		// arbitrary entry (its users get UNPREPARED and re-prepare).
		for id := range e.prepared {
			delete(e.prepared, id)
			break
		}
	}
	e.prepared[c.id] = c
	e.prepMu.Unlock()
	ks, table := "", ""
	switch {
	case c.sel != nil:
		ks, table = c.sel.table.Keyspace, c.sel.table.Name
	case len(c.writes) > 0:
		ks, table = c.writes[0].table.Keyspace, c.writes[0].table.Name
	}
	cc := &compiler{markers: c.markers}
	res := &message.PreparedResult{
		PreparedQueryId:   c.id[:],
		VariablesMetadata: &message.VariablesMetadata{PkIndices: c.pkIdx, Columns: cc.markerMetadata(ks, table)},
		ResultMetadata:    &message.RowsMetadata{},
	}
	if c.sel != nil {
		res.ResultMetadata = &message.RowsMetadata{ColumnCount: int32(len(c.sel.meta)), Columns: c.sel.meta}
	}
	return res, nil
}

func (e *Engine) lookupPrepared(id []byte) (*compiled, bool) {
	if len(id) != 16 {
		return nil, false
	}
	e.prepMu.RLock()
	defer e.prepMu.RUnlock()
	c, ok := e.prepared[[16]byte(id)]
	return c, ok
}

func (e *Engine) execute(ctx context.Context, sess *Session, m *message.Execute) (message.Message, error) {
	c, ok := e.lookupPrepared(m.QueryId)
	if !ok {
		return &message.Unprepared{ErrorMessage: "Prepared statement not found", Id: m.QueryId}, nil
	}
	tracerFrom(ctx).event("Processing a prepared statement")
	return e.run(ctx, sess, c, m.Options)
}

// run executes a compiled statement.
func (e *Engine) run(ctx context.Context, sess *Session, c *compiled, opts *message.QueryOptions) (message.Message, error) {
	if c.sel == nil && c.writes == nil {
		tracerFrom(ctx).event("Executing schema statement")
		return e.runDDLDurable(sess, c)
	}
	x, err := e.newCtx(opts, c)
	if err != nil {
		return nil, err
	}
	x.trace = tracerFrom(ctx)
	if c.sel != nil {
		var pageSize int32
		var paging []byte
		if opts != nil {
			pageSize, paging = opts.PageSize, opts.PagingState
		}
		return e.durableRead(e.runSelect(x, c.sel, pageSize, paging))
	}
	if c.batchTS != nil {
		v, unset, err := c.batchTS.eval(x)
		if err != nil {
			return nil, err
		}
		if !unset && v != nil {
			ts := signedBE(v)
			x.defaultTS = &ts
		}
	}
	items := make([]batchItem, len(c.writes))
	for i, w := range c.writes {
		items[i] = batchItem{plan: w, x: x}
	}
	_, isBatch := c.stmt.(*cql.BatchStatement)
	return e.runWrites(items, isBatch)
}

// runSelect runs a SELECT; seq is the last log record its result depends
// on (everything appended, for a system table).
func (e *Engine) runSelect(x *execCtx, p *selectPlan, pageSize int32, paging []byte) (res message.Message, seq uint64, err error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var td *tableData
	if p.table.rows != nil {
		td, seq = e.virtualData(p.table), allRecords
	} else if td = e.data[p.table.Keyspace+"."+p.table.Name]; td == nil {
		return nil, 0, unconfiguredTable(p.table.Keyspace, p.table.Name)
	} else {
		seq = e.readFloorLocked(td)
	}
	rows, err := p.run(x, td, pageSize, paging, &seq)
	return rows, seq, err
}

// virtualData materialises a system table's generated rows as storage, so
// that every SELECT feature works on it. The caller holds the read lock.
func (e *Engine) virtualData(t *Table) *tableData {
	td := newTableData(t.clusteringCompare())
	for _, r := range t.rows(e) {
		pk := make([][]byte, len(t.PartitionKey))
		for i, c := range t.PartitionKey {
			pk[i] = r[c.Name]
		}
		ck := make([][]byte, len(t.Clustering))
		for i, c := range t.Clustering {
			ck[i] = r[c.Name]
		}
		w := RowWrite{Clustering: ck, Marker: true}
		for _, c := range t.nonKeyColumns() {
			if v, ok := r[c.Name]; ok {
				w.Cells = append(w.Cells, CellWrite{Column: c.Name, Op: CellSet, Value: v})
			}
		}
		td.applyMutation(&Mutation{Key: partitionKeyBytes(pk), Rows: []RowWrite{w}}, 0, 0)
	}
	return td
}

// batchItem is one write of a batch with its own bound values.
type batchItem struct {
	plan *writePlan
	x    *execCtx
}

func (e *Engine) batch(ctx context.Context, sess *Session, b *message.Batch) (message.Message, error) {
	if b.Type == primitive.BatchTypeCounter {
		return nil, unsupported("counter batches")
	}
	now := e.cfg.Now()
	var (
		items []batchItem
		plans []*writePlan
	)
	for i, child := range b.Children {
		c, err := e.batchChild(sess, child)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return &message.Unprepared{ErrorMessage: "Prepared statement not found", Id: child.Id}, nil
		}
		if len(c.writes) != 1 || c.batchTS != nil {
			return nil, invalidf("Invalid statement %d in batch: only INSERT, UPDATE and DELETE statements are allowed", i)
		}
		x := &execCtx{e: e, now: now, defaultTS: b.DefaultTimestamp, trace: tracerFrom(ctx)}
		if x.values, err = bindValues(c.markers, &message.QueryOptions{PositionalValues: child.Values}); err != nil {
			return nil, err
		}
		items = append(items, batchItem{plan: c.writes[0], x: x})
		plans = append(plans, c.writes[0])
	}
	if err := checkConditionalBatch(plans, false); err != nil {
		return nil, err
	}
	return e.runWrites(items, true)
}

// batchChild returns the compiled statement of a BATCH entry, or nil when
// its prepared id is unknown.
func (e *Engine) batchChild(sess *Session, child *message.BatchChild) (*compiled, error) {
	if child.Id != nil {
		c, ok := e.lookupPrepared(child.Id)
		if !ok {
			return nil, nil
		}
		return c, nil
	}
	return e.compile(sess.Keyspace, child.Query)
}

// runWrites executes writes as one atomic step with one timestamp: plain
// writes are applied together; if any carries an IF condition, all of them
// apply only when every condition holds (lwt.go). isBatch is set for a
// BATCH, whose LWT result has a row per statement.
func (e *Engine) runWrites(items []batchItem, isBatch bool) (message.Message, error) {
	lwt := slices.ContainsFunc(items, func(it batchItem) bool { return it.plan.conditional() })
	// An LWT ignores the client's timestamp, as ScyllaDB's Paxos does.
	if len(items) > 0 && (lwt || items[0].x.defaultTS == nil) {
		ts := items[0].x.now.UnixMicro()
		for _, it := range items {
			it.x.defaultTS, it.x.serverTS = &ts, true
		}
	}
	muts := make([]Mutation, 0, len(items)) // one per statement in the common case
	// An LWT's read needs the row each statement names: keep the keys
	// evaluated for the mutations rather than evaluating them again.
	var keys []writeKeys
	if lwt {
		keys = make([]writeKeys, len(items))
	}
	for i, it := range items {
		wt, err := it.plan.times(it.x)
		if err != nil {
			return nil, err
		}
		k, err := it.plan.keys(it.x)
		if err != nil {
			return nil, err
		}
		if lwt {
			keys[i] = k
		}
		ms, err := it.plan.mutations(it.x, k, wt)
		if err != nil {
			return nil, err
		}
		muts = append(muts, ms...)
	}
	var tr *tracer
	if len(items) > 0 {
		tr = items[0].x.trace
	}
	if tr != nil { // the event's arguments allocate: build them only when traced
		tr.event("Applying %d mutation(s) of %d statement(s)%s", len(muts), len(items), traceWrites(muts))
	}
	if lwt {
		res, err := e.durableRead(e.runCAS(items, keys, muts, isBatch))
		if err == nil {
			tr.event("Conditional write evaluated")
		}
		return res, err
	}
	if err := e.apply(muts); err != nil {
		return nil, err
	}
	tr.event("Mutations applied")
	return &message.VoidResult{}, nil
}

// apply applies mutations atomically: every write goes through here. With
// a data dir it returns once the write is durable.
func (e *Engine) apply(muts []Mutation) error {
	var seq uint64
	err := func() error {
		e.mu.Lock()
		defer e.mu.Unlock()
		err := e.applyLocked(muts)
		seq = e.lastRecordLocked()
		return err
	}()
	if err != nil {
		return err
	}
	return e.waitDurableTo(seq)
}

// applyLocked applies muts; the caller holds the write lock. All tables are
// resolved first so that a batch is applied entirely or not at all.
func (e *Engine) applyLocked(muts []Mutation) error {
	if err := e.logFailedLocked(); err != nil {
		return err
	}
	tds := make([]*tableData, len(muts))
	for i := range muts {
		td := e.data[muts[i].Keyspace+"."+muts[i].Table]
		if td == nil {
			return unconfiguredTable(muts[i].Keyspace, muts[i].Table)
		}
		tds[i] = td
	}
	if err := e.faultLocked(muts); err != nil {
		return err
	}
	now := e.nowNanos()
	e.stampLocked(muts, now)
	for i := range muts {
		if err := tds[i].check(&muts[i], now); err != nil {
			return err
		}
	}
	seq := e.nextRecordLocked()
	pending, err := e.cdcCollect(muts, now)
	if err != nil {
		return err
	}
	for i := range muts {
		tds[i].applyMutation(&muts[i], now, seq)
	}
	cdcMuts := e.cdcApply(pending, now, seq)
	e.maybeCompact(len(muts), now)
	return e.logWriteLocked(now, muts, cdcMuts)
}

// stampLocked gives the mutations whose client sent no timestamp one
// write time taken now, under the write lock, later than any it gave
// before. So a write's time (and its CDC log row's cdc$time) is never
// earlier than the moment it became visible: a CDC reader that has read
// up to some time cannot later find an older row appear, whatever the
// delay between a request's arrival and its apply.
func (e *Engine) stampLocked(muts []Mutation, now int64) {
	ts := max(now/1e3, e.lastStamp+1)
	stamped := false
	for i := range muts {
		m := &muts[i]
		if !m.ServerTS {
			continue
		}
		stamped = true
		if m.DeletePartition {
			m.DeleteTS = ts
		}
		for j := range m.RangeDeletes {
			m.RangeDeletes[j].TS = ts
		}
		for j := range m.Rows {
			m.Rows[j].TS = ts
		}
	}
	if stamped {
		e.lastStamp = ts
	}
}
