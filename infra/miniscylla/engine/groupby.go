package engine

import (
	"bytes"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

// GROUP BY folds consecutive rows that share a primary key prefix into one
// result row: aggregates over the group, plain columns from its first row,
// as Cassandra does. Rows are scanned in token and clustering order, so a
// group's rows are contiguous; a group is emitted once the first row of the
// next one (or the end of the scan) shows it complete, and the paging state
// is the last row of the last emitted group, so a page never splits one.

const groupByOrderMsg = "Group by currently only support groups of columns following their declared order in the PRIMARY KEY"

// groupBy compiles the GROUP BY columns: a prefix of the primary key, in
// order, where a column restricted by a single = may be left out.
func (c *compiler) groupBy(p *selectPlan, names []string) error {
	t := p.table
	pkCols := append(append([]*Column(nil), t.PartitionKey...), t.Clustering...)
	next := 0
	for _, name := range names {
		col := t.Column(name)
		if col == nil {
			return undefinedColumn(name)
		}
		for next < len(pkCols) && pkCols[next] != col && p.where.restrictedByEq(pkCols[next]) {
			next++
		}
		if next == len(pkCols) || pkCols[next] != col {
			return invalidf(groupByOrderMsg)
		}
		p.groupBy = append(p.groupBy, col)
		next++
	}
	if p.ppl != nil {
		return unsupported("PER PARTITION LIMIT with GROUP BY")
	}
	if p.distinct {
		return invalidf("Grouping on clustering columns is not allowed for SELECT DISTINCT queries")
	}
	return nil
}

// restrictedByEq reports whether col has exactly one value by an = relation.
func (w *whereClause) restrictedByEq(col *Column) bool {
	rs := w.ck
	if col.Kind == PartitionKey {
		rs = w.pk
	}
	for _, r := range rs {
		if r != nil && !r.tuple && !r.token && r.cols[0] == col && r.op == cql.OpEq {
			return true
		}
	}
	return false
}

// groupKey is the encoded values of the GROUP BY columns for v.
func (r *selectRun) groupKey(v *rowView) []byte {
	var b []byte
	for _, col := range r.p.groupBy {
		b = appendBytes(b, v.value(col))
	}
	return b
}

// group adds v to the current group, first emitting the previous group
// when v starts a new one; done reports that the page or LIMIT is full.
func (r *selectRun) group(v *rowView, inPart int) (bool, error) {
	key := r.groupKey(v)
	if r.groupOpen && !bytes.Equal(key, r.curGroup) {
		if done := r.flushGroup(); done {
			return true, nil
		}
	}
	if !r.groupOpen {
		r.groupOpen, r.curGroup, r.first = true, key, nil
		for i, s := range r.p.selectors {
			if s.agg != nil {
				r.aggs[i] = s.agg()
			}
		}
	}
	end := r.position(v, inPart+1, 0)
	r.groupEnd = &end
	return false, r.fold(v)
}

// flushGroup emits the open group as a row; done reports that no more
// groups are wanted (a full page leaves the group open: the next page
// scans it again from its first row).
func (r *selectRun) flushGroup() (done bool) {
	if r.pageSize > 0 && len(r.rows) == r.pageSize {
		r.more = true
		return true
	}
	r.rows = append(r.rows, r.aggregateRow())
	r.groupOpen = false
	r.last = r.groupEnd
	r.last.emitted = len(r.rows)
	if r.resume != nil {
		r.last.emitted += r.resume.emitted
	}
	return r.limit >= 0 && r.last.emitted >= r.limit
}
