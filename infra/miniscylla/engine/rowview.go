package engine

import (
	"encoding/binary"
	"slices"
)

// rowView is one result row being read: a partition, its decoded key, and
// a clustering row (nil when only the static row exists).
type rowView struct {
	p      *partition
	pkVals [][]byte
	r      *row
	now    int64
}

// stored returns the stored column for col, or nil.
func (v *rowView) stored(col *Column) *column {
	r := v.r
	if col.Kind == StaticColumn {
		r = v.p.static
	}
	if r == nil {
		return nil
	}
	return r.cols[col.Name]
}

// value returns col's current encoded value, nil when null.
func (v *rowView) value(col *Column) []byte {
	switch col.Kind {
	case PartitionKey:
		return v.pkVals[col.Position]
	case ClusteringKey:
		if v.r == nil {
			return nil
		}
		return v.r.ck[col.Position]
	}
	c := v.stored(col)
	if c == nil {
		return nil
	}
	if col.Type.MultiCell() {
		return assemble(col.Type, c, v.now)
	}
	if !c.live(v.now) {
		return nil
	}
	return c.value
}

// liveCell returns col's live single cell (for writetime/ttl), or nil.
func (v *rowView) liveCell(col *Column) *cell {
	c := v.stored(col)
	if c == nil || !c.live(v.now) {
		return nil
	}
	return &c.cell
}

// assemble builds the encoded value of a multi-cell column from its live
// elements; nil when none is live.
func assemble(t *Type, c *column, now int64) []byte {
	type elem struct {
		key string
		val []byte
	}
	var es []elem
	for k, e := range c.elems {
		if e.live(now) {
			es = append(es, elem{k, e.value})
		}
	}
	if len(es) == 0 {
		return nil
	}
	switch t.Kind {
	case KindUDT:
		fields := make([][]byte, len(t.Elems))
		for _, e := range es {
			if len(e.key) == 2 {
				if i := int(binary.BigEndian.Uint16([]byte(e.key))); i < len(fields) {
					fields[i] = e.val
				}
			}
		}
		return encodeFields(fields)
	case KindList:
		slices.SortFunc(es, func(a, b elem) int { return compareTimeUUID([]byte(a.key), []byte(b.key)) })
		items := make([][]byte, len(es))
		for i, e := range es {
			items[i] = e.val
		}
		return encodeCollection(len(items), items)
	}
	kt := t.Elems[0]
	slices.SortFunc(es, func(a, b elem) int { return compareValues(kt, []byte(a.key), []byte(b.key)) })
	items := make([][]byte, 0, 2*len(es))
	for _, e := range es {
		items = append(items, []byte(e.key))
		if t.Kind == KindMap {
			items = append(items, e.val)
		}
	}
	return encodeCollection(len(es), items)
}
