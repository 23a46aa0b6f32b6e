package engine

import (
	"encoding/binary"
	"math"
	"math/big"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

// aggregate folds one selector's values over every matching row.
type aggregate interface {
	add(v []byte)
	result() []byte
}

// countAgg counts non-null values (COUNT(*) feeds it a non-null per row).
type countAgg struct{ n int64 }

func (a *countAgg) add(v []byte) {
	if v != nil {
		a.n++
	}
}

func (a *countAgg) result() []byte { return encBigint(a.n) }

// extremeAgg keeps the smallest (or largest) non-null value by type order.
type extremeAgg struct {
	t   *Type
	max bool
	v   []byte
}

func (a *extremeAgg) add(v []byte) {
	if v == nil {
		return
	}
	if a.v == nil {
		a.v = v
		return
	}
	c := compareValues(a.t, v, a.v)
	if (a.max && c > 0) || (!a.max && c < 0) {
		a.v = v
	}
}

func (a *extremeAgg) result() []byte { return a.v }

// countAll is the COUNT(*) selector.
func countAll() selector {
	return selector{
		name: "count", typ: Prim(KindBigint),
		get: func(*execCtx, *rowView) ([]byte, error) { return []byte{}, nil },
		agg: func() aggregate { return &countAgg{} },
	}
}

// aggregateSelector compiles count(col), min(col) and max(col); ok is false
// for other function names.
func (c *compiler) aggregateSelector(p *selectPlan, f *cql.SelectFunction) (selector, bool, error) {
	switch f.Name {
	case "count", "min", "max", "sum", "avg":
	default:
		return selector{}, false, nil
	}
	if len(f.Args) != 1 {
		return selector{}, true, invalidf("Invalid number of arguments in call to function %s: 1 required but %d provided", f.Name, len(f.Args))
	}
	arg, err := c.selector(p, f.Args[0])
	if err != nil {
		return selector{}, true, err
	}
	if arg.agg != nil {
		return selector{}, true, invalidf("aggregate functions cannot be used as arguments of aggregate functions")
	}
	out := selector{name: "system." + f.Name + "(" + arg.name + ")", typ: arg.typ, get: arg.get}
	switch f.Name {
	case "count":
		out.typ = Prim(KindBigint)
		out.agg = func() aggregate { return &countAgg{} }
	case "sum", "avg":
		t, avg := arg.typ, f.Name == "avg"
		if !numericKinds[t.Kind] {
			return selector{}, true, unsupported("%s of %s values", f.Name, t.CQL())
		}
		out.agg = func() aggregate { return &sumAgg{t: t, avg: avg, sum: new(big.Int)} }
	default:
		t, isMax := arg.typ, f.Name == "max"
		out.agg = func() aggregate { return &extremeAgg{t: t, max: isMax} }
	}
	return out, true, nil
}

// numericKinds are the types sum and avg accept.
var numericKinds = map[Kind]bool{
	KindTinyint: true, KindSmallint: true, KindInt: true, KindBigint: true,
	KindVarint: true, KindFloat: true, KindDouble: true,
}

// sumAgg adds integers exactly (wrapping to the column width, like
// ScyllaDB) and floating point values as float64; avg divides by the count
// of non-null values (integer division for integer types).
type sumAgg struct {
	t   *Type
	avg bool
	sum *big.Int
	f   float64
	n   int64
}

func (a *sumAgg) add(v []byte) {
	if len(v) == 0 {
		return
	}
	a.n++
	switch a.t.Kind {
	case KindFloat:
		a.f += float64(math.Float32frombits(binary.BigEndian.Uint32(v)))
	case KindDouble:
		a.f += math.Float64frombits(binary.BigEndian.Uint64(v))
	default:
		a.sum.Add(a.sum, varintOf(v))
	}
}

func (a *sumAgg) result() []byte {
	switch a.t.Kind {
	case KindFloat, KindDouble:
		f := a.f
		if a.avg && a.n > 0 {
			f /= float64(a.n)
		}
		if a.t.Kind == KindFloat {
			return binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(f)))
		}
		return encDouble(f)
	}
	v := new(big.Int).Set(a.sum)
	if a.avg && a.n > 0 {
		v.Quo(v, big.NewInt(a.n))
	}
	if a.t.Kind == KindVarint {
		return varintBytes(v)
	}
	// Wrap to the column width: keep the low bytes of the two's complement.
	n := fixedSize[a.t.Kind]
	return binary.BigEndian.AppendUint64(nil, uint64(v.Int64()))[8-n:]
}
