package engine

import (
	"bytes"
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/datastax/go-cassandra-native-protocol/datatype"
	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/google/uuid"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

// Lightweight transactions: statements and batches with IF conditions.
//
// ScyllaDB runs one Paxos round per partition: LWTs on different partitions
// proceed independently, those on one partition are linearizable. The
// engine does the same:
//
//   - Engine.lwtLocks serialises the LWTs of each partition (table and
//     partition key) from their read to their write; LWTs on other
//     partitions never wait for it.
//   - An LWT reads and checks its conditions under the engine's read lock,
//     alongside reads and the other LWTs; only its write takes the write
//     lock, through applyLocked like every write.
//   - Plain writes take no partition lock (in ScyllaDB they do not wait for
//     Paxos either), so one may change the partition between an LWT's read
//     and its write. Under the write lock the LWT therefore checks that
//     nothing changed the partition since it read it (partition.writes, the
//     table's data and schema, which truncate, schema changes and a log heal
//     replace) and, if something did, reads and checks again there, where
//     nothing can. Its read and its write are thus atomic with respect to
//     every other write to the partition.
//
// A conditional batch must stay within one partition of one table, and
// applies all its statements only if every condition holds. Its result is
// ScyllaDB's: one row per statement, holding the row the statement was
// checked against as it was before the batch (cas_request.cc).
//
// The write is stamped with the server's clock when it applies, whatever
// timestamp the client sent, as ScyllaDB writes an LWT at its Paxos
// ballot's time; a USING TIMESTAMP on a conditional statement or batch is
// refused.
//
// Like every read, an LWT answers once what it could have read is durable
// (durable.go): every log record appended before its read or, when it
// applied, up to its own record.

// lwtHook, set by tests (export_test.go), is called by every LWT between
// its read and its write, holding its partition's LWT lock and no engine
// lock.
var lwtHook atomic.Pointer[func(e *Engine, keyspace, table string, key []byte)]

// partitionLocks holds a mutex for each partition that an LWT holds or
// waits for, and drops it when the last one leaves, so that it stays as
// small as the LWTs in flight.
type partitionLocks struct {
	mu    sync.Mutex
	locks map[partitionID]*partitionLock
}

// partitionID names a partition: "keyspace.table" and its serialized key.
type partitionID struct{ table, key string }

type partitionLock struct {
	sync.Mutex
	users int // holders and waiters; guarded by partitionLocks.mu
}

// lock waits for the LWT lock of partition id and returns its release.
func (l *partitionLocks) lock(id partitionID) (unlock func()) {
	l.mu.Lock()
	pl := l.locks[id]
	if pl == nil {
		if l.locks == nil {
			l.locks = map[partitionID]*partitionLock{}
		}
		pl = &partitionLock{}
		l.locks[id] = pl
	}
	pl.users++
	l.mu.Unlock()
	pl.Lock()
	return func() {
		pl.Unlock()
		l.mu.Lock()
		if pl.users--; pl.users == 0 {
			delete(l.locks, id)
		}
		l.mu.Unlock()
	}
}

// conditional reports whether the statement has an IF clause.
func (p *writePlan) conditional() bool {
	return p.ifExists || p.ifNotExists || len(p.conds) > 0
}

// checkConditional refuses the conditional statements ScyllaDB refuses when
// it prepares them.
func (p *writePlan) checkConditional() error {
	if !p.conditional() {
		return nil
	}
	if p.ts != nil {
		return invalidf("Cannot provide custom timestamp for conditional updates")
	}
	verb := "updates"
	if p.kind == writeDelete {
		verb = "deletions"
	}
	if slices.ContainsFunc(p.where.pk, isIn) {
		return invalidf("IN on the partition key is not supported with conditional %s", verb)
	}
	if slices.ContainsFunc(p.where.ck, isIn) {
		return invalidf("IN on the clustering key columns is not supported with conditional %s", verb)
	}
	if p.kind == writeDelete && !p.namesRows() {
		return p.checkConditionalRangeDelete()
	}
	return nil
}

func isIn(r *restriction) bool { return r != nil && r.op == cql.OpIn }

// namesRows reports whether the WHERE clause names whole rows: every
// clustering column by =.
func (p *writePlan) namesRows() bool {
	for _, r := range p.where.ck {
		if r.op != cql.OpEq {
			return false
		}
	}
	return len(p.where.ck) == len(p.table.Clustering)
}

// checkConditionalRangeDelete refuses a conditional DELETE of more than one
// row unless it deletes, and is conditioned on, static columns only.
func (p *writePlan) checkConditionalRangeDelete() error {
	if !p.onlyStatic() {
		return invalidf("DELETE statements must restrict all PRIMARY KEY columns with equality relations in order to delete non static columns")
	}
	regular := slices.ContainsFunc(p.conds, func(k *condition) bool { return k.col.Kind != StaticColumn })
	if p.ifExists {
		// IF EXISTS is about the static row only when no clustering column is restricted.
		regular = len(p.where.ck) > 0
	}
	if regular {
		return invalidf("DELETE statements must restrict all PRIMARY KEY columns with equality relations in order to use IF condition on non static columns")
	}
	return nil
}

// checkConditionalBatch refuses the conditional batches ScyllaDB refuses
// before running them: one with a timestamp of its own, or spanning tables.
func checkConditionalBatch(plans []*writePlan, hasTimestamp bool) error {
	if !slices.ContainsFunc(plans, (*writePlan).conditional) {
		return nil
	}
	if hasTimestamp {
		return invalidf("Cannot provide custom timestamp for conditional BATCH")
	}
	for _, p := range plans[1:] {
		if p.table.Keyspace != plans[0].table.Keyspace || p.table.Name != plans[0].table.Name {
			return invalidf("BATCH with conditions cannot span multiple tables")
		}
	}
	return nil
}

// casRequest is one LWT: a conditional statement, or a conditional batch,
// on one partition.
type casRequest struct {
	table *Table
	key   []byte // the partition key
	stmts []casStmt
	// cols are the result's columns after [applied].
	cols []*Column
}

// casStmt is one statement of an LWT and the row it names.
type casStmt struct {
	batchItem
	// ck is the clustering key of the row; unused when static is set.
	ck [][]byte
	// static is set when the statement names no single row (static
	// columns only, or a range): its row is the partition's static row.
	static bool
}

// newCASRequest checks that an LWT's mutations stay within one partition
// and finds the row each statement names; keys[i] is what items[i] targets.
func newCASRequest(items []batchItem, keys []writeKeys, muts []Mutation, isBatch bool) (*casRequest, error) {
	for _, m := range muts[1:] {
		if !bytes.Equal(m.Key, muts[0].Key) {
			return nil, invalidf("BATCH with conditions cannot span multiple partitions")
		}
	}
	req := &casRequest{table: items[0].plan.table, key: muts[0].Key, stmts: make([]casStmt, len(items))}
	plans := make([]*writePlan, len(items))
	for i, it := range items {
		cks := keys[i].cks
		st := casStmt{batchItem: it, static: keys[i].rng != nil || len(cks) == 0 || len(cks[0]) != len(req.table.Clustering)}
		if !st.static {
			st.ck = cks[0] // the first of an IN, as ScyllaDB takes its first range
		}
		req.stmts[i], plans[i] = st, it.plan
	}
	req.cols = casColumns(req.table, plans, isBatch)
	return req, nil
}

func (req *casRequest) partition() partitionID {
	return partitionID{table: req.table.Keyspace + "." + req.table.Name, key: string(req.key)}
}

// casColumns lists the result's columns after [applied], in ScyllaDB's
// order (partition key, clustering, static, regular): a batch's primary
// key, then all columns when a statement has IF [NOT] EXISTS, else those
// the conditions name.
func casColumns(t *Table, plans []*writePlan, isBatch bool) []*Column {
	want := map[string]bool{}
	for _, p := range plans {
		if p.ifExists || p.ifNotExists {
			return orderedForCAS(t.Columns)
		}
		for _, k := range p.conds {
			want[k.col.Name] = true
		}
	}
	cols := slices.DeleteFunc(slices.Clone(t.Columns), func(c *Column) bool {
		key := c.Kind == PartitionKey || c.Kind == ClusteringKey
		return !want[c.Name] && !(isBatch && key)
	})
	return orderedForCAS(cols)
}

// orderedForCAS sorts columns in table order (key columns, then the others
// by name) the way ScyllaDB lists them: static columns before regular ones.
func orderedForCAS(cols []*Column) []*Column {
	out := slices.Clone(cols)
	slices.SortStableFunc(out, func(a, b *Column) int { return cmp.Compare(a.Kind, b.Kind) })
	return out
}

// runCAS executes an LWT (see the top of this file); seq is the last log
// record its result depends on.
func (e *Engine) runCAS(items []batchItem, keys []writeKeys, muts []Mutation, isBatch bool) (_ message.Message, seq uint64, _ error) {
	req, err := newCASRequest(items, keys, muts, isBatch)
	if err != nil {
		return nil, 0, err
	}
	unlock := e.lwtLocks.lock(req.partition())
	defer unlock()
	e.mu.RLock()
	read, err := e.casReadLocked(req)
	seq = e.lastRecordLocked()
	e.mu.RUnlock()
	if err != nil {
		return nil, 0, err
	}
	if hook := lwtHook.Load(); hook != nil {
		(*hook)(e, req.table.Keyspace, req.table.Name, req.key)
	}
	if !read.applied {
		return read.result, seq, nil
	}
	return e.casWrite(req, read, muts)
}

// casWrite applies an LWT whose conditions held when it read, after
// reading again if anything changed the partition since.
func (e *Engine) casWrite(req *casRequest, read *casRead, muts []Mutation) (_ message.Message, seq uint64, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.changedSinceLocked(req, read) {
		if read, err = e.casReadLocked(req); err != nil {
			return nil, 0, err
		}
	}
	if read.applied {
		if err := e.applyLocked(muts); err != nil {
			return nil, 0, err
		}
	}
	return read.result, e.lastRecordLocked(), nil
}

// casRead is what one read of an LWT's partition found.
type casRead struct {
	applied bool
	// result is the [applied] result, with the rows as they were read.
	result *message.RowsResult
	// What was read, for changedSinceLocked.
	data   *tableData
	part   *partition // nil when the partition did not exist
	writes uint64
	schema uuid.UUID
}

// casReadLocked reads the rows an LWT's statements name and checks the
// conditions against them. The caller holds the read or the write lock.
func (e *Engine) casReadLocked(req *casRequest) (*casRead, error) {
	// While the log is failed every write is refused, LWTs included.
	if err := e.logFailedLocked(); err != nil {
		return nil, err
	}
	td := e.data[req.partition().table]
	if td == nil {
		return nil, unconfiguredTable(req.table.Keyspace, req.table.Name)
	}
	read := &casRead{applied: true, data: td, part: td.parts[string(req.key)], schema: e.schemaVersion}
	if read.part != nil {
		read.writes = read.part.writes
	}
	rows := make(message.RowSet, len(req.stmts))
	for i := range req.stmts {
		st := &req.stmts[i]
		v := st.oldRow(td, read.part)
		if read.applied && st.plan.conditional() {
			// Like ScyllaDB, stop checking at the first condition that fails.
			ok, err := st.holds(v)
			if err != nil {
				return nil, err
			}
			read.applied = ok
		}
		rows[i] = casRow(req.cols, v)
	}
	read.result = casResult(req.table, read.applied, req.cols, rows)
	return read, nil
}

// changedSinceLocked reports whether anything changed the partition that
// read found: a write to it, or the table's data or schema replaced. The
// caller holds the write lock.
func (e *Engine) changedSinceLocked(req *casRequest, read *casRead) bool {
	td := e.data[req.partition().table]
	if td != read.data || e.schemaVersion != read.schema {
		return true
	}
	part := td.parts[string(req.key)]
	return part != read.part || (part != nil && part.writes != read.writes)
}

// oldRow is the row a statement of an LWT is checked against, as ScyllaDB
// picks it: the row the statement names or, when that row does not exist
// and the statement is not IF [NOT] EXISTS, the partition's static row;
// nil when neither exists.
func (st *casStmt) oldRow(td *tableData, part *partition) *rowView {
	if part == nil {
		return nil
	}
	now := st.x.now.UnixNano()
	pkVals, _ := splitPartitionKey(part.key, len(st.plan.table.PartitionKey))
	v := &rowView{p: part, pkVals: pkVals, now: now}
	if !st.static {
		if i, found := td.findRow(part, st.ck); found && rowLive(part.rows[i], now) {
			v.r = part.rows[i]
			return v
		}
		if st.plan.ifExists || st.plan.ifNotExists {
			return nil
		}
	}
	if part.static == nil || !rowLive(part.static, now) {
		return nil
	}
	return v
}

// holds checks the statement's conditions against its row (v nil: none).
func (st *casStmt) holds(v *rowView) (bool, error) {
	switch {
	case st.plan.ifNotExists:
		return v == nil, nil
	case st.plan.ifExists:
		return v != nil, nil
	}
	for _, k := range st.plan.conds {
		ok, err := k.check(st.x, v)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// casRow is one result row after [applied]: cols' values in v, nulls when
// there is no row.
func casRow(cols []*Column, v *rowView) [][]byte {
	row := make([][]byte, 1, 1+len(cols))
	for _, c := range cols {
		var val []byte
		if v != nil {
			val = v.value(c)
		}
		row = append(row, val)
	}
	return row
}

// casResult is the [applied] result set of an LWT: each row's first
// column, left empty by casRow, is the flag.
func casResult(t *Table, applied bool, cols []*Column, rows message.RowSet) *message.RowsResult {
	// One allocation for all the column specs, the result's largest part.
	specs := make([]message.ColumnMetadata, 1+len(cols))
	specs[0] = message.ColumnMetadata{Keyspace: t.Keyspace, Table: t.Name, Name: "[applied]", Type: datatype.Boolean}
	for i, c := range cols {
		specs[i+1] = message.ColumnMetadata{Keyspace: t.Keyspace, Table: t.Name, Name: c.Name, Index: int32(i + 1), Type: c.Type.DataType()}
	}
	meta := make([]*message.ColumnMetadata, len(specs))
	for i := range specs {
		meta[i] = &specs[i]
	}
	for _, row := range rows {
		row[0] = encBool(applied)
	}
	return &message.RowsResult{
		Metadata: &message.RowsMetadata{ColumnCount: int32(len(meta)), Columns: meta},
		Data:     rows,
	}
}
