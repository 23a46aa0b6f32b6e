package engine

import (
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
	case "count", "min", "max":
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
	default:
		t, isMax := arg.typ, f.Name == "max"
		out.agg = func() aggregate { return &extremeAgg{t: t, max: isMax} }
	}
	return out, true, nil
}
