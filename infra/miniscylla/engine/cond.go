package engine

import (
	"bytes"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

// condition is one compiled LWT IF condition.
type condition struct {
	col   *Column
	key   expr // m[k] / l[idx]
	field int  // UDT field, or -1
	op    cql.Operator
	vals  []expr
	typ   *Type
}

func (c *compiler) conditions(t *Table, conds []cql.Condition) ([]*condition, error) {
	out := make([]*condition, 0, len(conds))
	for _, cd := range conds {
		col := t.Column(cd.Column)
		if col == nil {
			return nil, undefinedColumn(cd.Column)
		}
		if col.Kind == PartitionKey || col.Kind == ClusteringKey {
			return nil, invalidf("PRIMARY KEY column '%s' cannot have IF conditions", col.Name)
		}
		k := &condition{col: col, op: cd.Op, field: -1, typ: col.Type}
		var err error
		switch {
		case cd.Key != nil:
			kt, kname := elementKeyType(col)
			if kt == nil {
				return nil, invalidf("Invalid element access on column %s", col.Name)
			}
			if k.key, err = c.term(cd.Key, kt, kname); err != nil {
				return nil, err
			}
			k.typ = col.Type.Elems[len(col.Type.Elems)-1]
		case cd.Field != "":
			if col.Type.Kind != KindUDT {
				return nil, invalidf("Invalid field selection on non-UDT column %s", col.Name)
			}
			if k.field = fieldIndex(col.Type, cd.Field); k.field < 0 {
				return nil, invalidf("UDT column %s does not have a field named %s", col.Name, cd.Field)
			}
			k.typ = col.Type.Elems[k.field]
		}
		switch cd.Op {
		case cql.OpContains, cql.OpContainsKey, cql.OpLike:
			return nil, unsupported("operator %s in IF conditions", cd.Op)
		}
		if cd.Op == cql.OpIn && cd.Values == nil {
			x, err := c.term(cd.Value, FrozenOf(ListOf(k.typ)), "in("+col.Name+")")
			if err != nil {
				return nil, err
			}
			k.vals = []expr{&inListExpr{x}}
		} else {
			terms := cd.Values
			if cd.Op != cql.OpIn {
				terms = []cql.Term{cd.Value}
			}
			for _, tm := range terms {
				x, err := c.term(tm, k.typ, col.Name)
				if err != nil {
					return nil, err
				}
				k.vals = append(k.vals, x)
			}
		}
		out = append(out, k)
	}
	return out, nil
}

func fieldIndex(t *Type, name string) int {
	for i, f := range t.Fields {
		if f == name {
			return i
		}
	}
	return -1
}

// inListExpr marks an `IN ?` list whose items are the candidates.
type inListExpr struct{ expr }

// check evaluates the condition against the current row (v nil: no row).
func (k *condition) check(x *execCtx, v *rowView) (bool, error) {
	var got []byte
	if v != nil {
		got = v.value(k.col)
	}
	if k.key != nil && got != nil {
		key, _, err := k.key.eval(x)
		if err != nil {
			return false, err
		}
		got = elementOf(k.col.Type, got, key)
	}
	if k.field >= 0 && got != nil {
		fields, _ := decodeFields(got)
		got = nil
		if k.field < len(fields) {
			got = fields[k.field]
		}
	}
	var cands [][]byte
	for _, ve := range k.vals {
		val, unset, err := ve.eval(x)
		if err != nil {
			return false, err
		}
		if unset {
			return false, invalidf("Invalid unset value for condition on %s", k.col.Name)
		}
		if _, isList := ve.(*inListExpr); isList && val != nil {
			items, _ := decodeCollection(val)
			cands = append(cands, items...)
			continue
		}
		cands = append(cands, val)
	}
	for _, want := range cands {
		if k.compare(got, want) {
			return true, nil
		}
	}
	return false, nil
}

func (k *condition) compare(got, want []byte) bool {
	if got == nil || want == nil {
		eq := got == nil && want == nil
		switch k.op {
		case cql.OpEq, cql.OpIn:
			return eq
		case cql.OpNeq:
			return !eq
		}
		return false
	}
	return opHolds(k.op, compareValues(k.typ, got, want))
}

// opHolds applies a comparison operator to c, the result of comparing the
// stored value with the operand (IN matches one operand, so it is equality).
func opHolds(op cql.Operator, c int) bool {
	switch op {
	case cql.OpEq, cql.OpIn:
		return c == 0
	case cql.OpNeq:
		return c != 0
	case cql.OpLt:
		return c < 0
	case cql.OpLte:
		return c <= 0
	case cql.OpGt:
		return c > 0
	case cql.OpGte:
		return c >= 0
	}
	return false
}

// elementOf returns coll[key] of a map (by key) or list (by int index).
func elementOf(t *Type, coll, key []byte) []byte {
	items, ok := decodeCollection(coll)
	if !ok {
		return nil
	}
	if t.Kind == KindList {
		if len(key) != 4 {
			return nil
		}
		i := int(int32(uint32(key[0])<<24 | uint32(key[1])<<16 | uint32(key[2])<<8 | uint32(key[3])))
		if i >= 0 && i < len(items) {
			return items[i]
		}
		return nil
	}
	for i := 0; i+1 < len(items); i += 2 {
		if bytes.Equal(items[i], key) || compareValues(t.Elems[0], items[i], key) == 0 {
			return items[i+1]
		}
	}
	return nil
}
