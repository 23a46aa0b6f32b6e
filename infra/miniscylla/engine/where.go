package engine

import (
	"slices"
	"strings"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

// restriction is one compiled WHERE relation (or LWT condition).
type restriction struct {
	cols  []*Column // one column; the key columns for token(); the tuple's columns
	token bool
	tuple bool
	op    cql.Operator
	vals  []expr // the value, or the IN list
	// inList is set for `IN ?`: vals[0] is one list value to split.
	inList bool
	// typ is the type each compared value has (column, element, tuple or bigint).
	typ *Type
}

// whereClause is a statement's compiled WHERE, split by what it restricts.
type whereClause struct {
	pk     []*restriction // at most one per partition key column (= or IN)
	token  []*restriction
	ck     []*restriction // on clustering columns, incl. tuple relations
	others []*restriction // regular/static columns, or keys restricted in ways that need filtering
}

func (c *compiler) where(t *Table, rels []cql.Relation) (*whereClause, error) {
	w := &whereClause{pk: make([]*restriction, len(t.PartitionKey))}
	for i := range rels {
		r, err := c.relation(t, &rels[i])
		if err != nil {
			return nil, err
		}
		switch {
		case r.token:
			w.token = append(w.token, r)
		case r.tuple || r.cols[0].Kind == ClusteringKey:
			w.ck = append(w.ck, r)
		case r.cols[0].Kind == PartitionKey && (r.op == cql.OpEq || r.op == cql.OpIn) && w.pk[r.cols[0].Position] == nil:
			w.pk[r.cols[0].Position] = r
		default:
			w.others = append(w.others, r)
		}
	}
	return w, nil
}

// pkComplete reports whether every partition key column is restricted by = or IN.
func (w *whereClause) pkComplete() bool {
	return !slices.Contains(w.pk, nil)
}

func (c *compiler) relation(t *Table, rel *cql.Relation) (*restriction, error) {
	r := &restriction{op: rel.Op, token: rel.Token, tuple: rel.Tuple}
	for _, name := range rel.Columns {
		col := t.Column(name)
		if col == nil {
			return nil, undefinedColumn(name)
		}
		r.cols = append(r.cols, col)
	}
	if len(r.cols) == 0 {
		return nil, syntaxf("relation without column")
	}
	switch rel.Op {
	case cql.OpNeq, cql.OpLike:
		return nil, unsupported("operator %s in WHERE", rel.Op)
	}
	name := r.cols[0].Name
	switch {
	case r.token:
		if !sameColumns(r.cols, t.PartitionKey) {
			return nil, invalidf("The token function arguments must be in the partition key order: %s", columnNames(t.PartitionKey))
		}
		r.typ, name = Prim(KindBigint), "partition key token"
	case r.tuple:
		types := make([]*Type, len(r.cols))
		names := make([]string, len(r.cols))
		for i, col := range r.cols {
			if col.Kind != ClusteringKey {
				return nil, invalidf("Multi-column relations can only be applied to clustering columns but was applied to: %s", col.Name)
			}
			types[i], names[i] = col.Type, col.Name
		}
		r.typ, name = TupleOf(types...), "("+strings.Join(names, ",")+")"
	case rel.Op == cql.OpContains:
		ct := r.cols[0].Type
		if !ct.IsCollection() {
			return nil, invalidf("Cannot use CONTAINS on non-collection column %s", name)
		}
		r.typ = ct.Elems[len(ct.Elems)-1]
	case rel.Op == cql.OpContainsKey:
		if r.cols[0].Type.Kind != KindMap {
			return nil, invalidf("Cannot use CONTAINS KEY on non-map column %s", name)
		}
		r.typ = r.cols[0].Type.Elems[0]
	default:
		r.typ = r.cols[0].Type
	}
	if rel.Op == cql.OpIn && rel.Values == nil {
		r.inList = true
		x, err := c.term(rel.Value, FrozenOf(ListOf(r.typ)), "in("+name+")")
		if err != nil {
			return nil, err
		}
		r.vals = []expr{x}
		return r, nil
	}
	terms := rel.Values
	if rel.Op != cql.OpIn {
		terms = []cql.Term{rel.Value}
	}
	for _, tm := range terms {
		var x expr
		var err error
		if tl, ok := tm.(*cql.TupleLiteral); ok && r.tuple && len(tl.Elems) == len(r.cols) {
			x, err = c.tupleOfColumns(r.cols, tl)
		} else {
			x, err = c.term(tm, r.typ, name)
		}
		if err != nil {
			return nil, err
		}
		r.vals = append(r.vals, x)
	}
	return r, nil
}

// tupleOfColumns compiles (?, ?) against clustering columns, naming each
// marker after its column as ScyllaDB does.
func (c *compiler) tupleOfColumns(cols []*Column, tl *cql.TupleLiteral) (expr, error) {
	types := make([]*Type, len(cols))
	out := &collExpr{elems: make([]expr, len(cols))}
	for i, col := range cols {
		types[i] = col.Type
		x, err := c.term(tl.Elems[i], col.Type, col.Name)
		if err != nil {
			return nil, err
		}
		out.elems[i] = x
	}
	out.t = TupleOf(types...)
	return out, nil
}

func sameColumns(a, b []*Column) bool {
	return slices.EqualFunc(a, b, func(x, y *Column) bool { return x.Name == y.Name })
}

func columnNames(cs []*Column) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// bound is a restriction with its values evaluated for one execution.
type bound struct {
	r    *restriction
	vals [][]byte
	one  [1][]byte // backs vals for the common single value
}

// bind evaluates r's values for one execution into b.
func (r *restriction) bind(x *execCtx, b *bound) error {
	b.r, b.vals = r, b.one[:0]
	for _, v := range r.vals {
		val, unset, err := v.eval(x)
		if err != nil {
			return err
		}
		if unset {
			return invalidf("Invalid unset value for column %s", r.cols[0].Name)
		}
		if r.inList {
			if val == nil {
				return invalidf("Invalid null value for IN restriction on %s", r.cols[0].Name)
			}
			items, ok := decodeCollection(val)
			if !ok {
				return invalidf("Invalid IN list for %s", r.cols[0].Name)
			}
			b.vals = append(b.vals, items...)
			continue
		}
		if val == nil && (r.cols[0].Kind == PartitionKey || r.cols[0].Kind == ClusteringKey || r.token) {
			return invalidf("Invalid null value in condition for column %s", r.cols[0].Name)
		}
		b.vals = append(b.vals, val)
	}
	return nil
}

// bindAll binds rs for one execution; the bounds share one allocation.
func bindAll(x *execCtx, rs []*restriction) ([]*bound, error) {
	bs := make([]bound, len(rs))
	out := make([]*bound, len(rs))
	for i, r := range rs {
		if err := r.bind(x, &bs[i]); err != nil {
			return nil, err
		}
		out[i] = &bs[i]
	}
	return out, nil
}

// matches tests a value (or, for tuple relations, the clustering values
// encoded as a tuple) against the bound restriction.
func (b *bound) matches(got []byte) bool {
	switch b.r.op {
	case cql.OpIn:
		return slices.ContainsFunc(b.vals, func(v []byte) bool { return got != nil && compareValues(b.r.typ, got, v) == 0 })
	case cql.OpContains, cql.OpContainsKey:
		return containsElem(b.r.cols[0].Type, got, b.vals[0], b.r.op == cql.OpContainsKey)
	}
	if got == nil || b.vals[0] == nil {
		return false
	}
	return opHolds(b.r.op, compareValues(b.r.typ, got, b.vals[0]))
}

func containsElem(t *Type, coll, want []byte, key bool) bool {
	items, ok := decodeCollection(coll)
	if !ok || coll == nil {
		return false
	}
	for i, it := range items {
		switch {
		case t.Kind == KindMap && key && i%2 == 0,
			t.Kind == KindMap && !key && i%2 == 1,
			t.Kind != KindMap:
			et := t.Elems[0]
			if t.Kind == KindMap && i%2 == 1 {
				et = t.Elems[1]
			}
			if compareValues(et, it, want) == 0 {
				return true
			}
		}
	}
	return false
}

// keyValues expands the = / IN restrictions on cols into every combination
// of values, in order (the cross product for multi-column keys).
// The combinations share one backing array, each capped to its length.
func keyValues(bs []*bound) [][][]byte {
	n := 1
	for _, b := range bs {
		n *= len(b.vals)
	}
	flat := make([][]byte, n*len(bs))
	combos := make([][][]byte, n)
	for i := range combos {
		c := flat[i*len(bs) : (i+1)*len(bs) : (i+1)*len(bs)]
		// i in mixed radix, the last restriction varying fastest.
		rem := i
		for j := len(bs) - 1; j >= 0; j-- {
			vals := bs[j].vals
			c[j] = vals[rem%len(vals)]
			rem /= len(vals)
		}
		combos[i] = c
	}
	return combos
}
