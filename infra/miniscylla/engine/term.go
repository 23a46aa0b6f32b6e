package engine

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/datatype"
	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
	"github.com/google/uuid"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

// execCtx is the per-request state a compiled statement runs with.
type execCtx struct {
	e         *Engine
	values    []*primitive.Value // positional, named values already matched
	now       time.Time
	defaultTS *int64
	// serverTS is set when the client sent no timestamp: the writes are
	// stamped when they apply, not when they were parsed.
	serverTS bool
	// trace records the request's steps when it is traced (trace.go).
	trace *tracer
	// jsonDocs holds the INSERT JSON documents parsed in this execution.
	jsonDocs map[*jsonDoc]map[string]json.RawMessage
}

// marker describes one bind variable: its metadata name and type.
type marker struct {
	name string
	typ  *Type
}

// expr is a compiled term: evaluating it yields an encoded value, or nil for
// null; unset reports an UNSET bind value.
type expr interface {
	eval(x *execCtx) (val []byte, unset bool, err error)
}

type constExpr []byte

func (c constExpr) eval(*execCtx) ([]byte, bool, error) { return c, false, nil }

type markerExpr struct {
	idx int
	m   marker
}

func (m markerExpr) eval(x *execCtx) ([]byte, bool, error) {
	if m.idx >= len(x.values) || x.values[m.idx] == nil {
		return nil, false, invalidf("Missing value for bind variable %s", m.m.name)
	}
	v := x.values[m.idx]
	switch v.Type {
	case primitive.ValueTypeUnset:
		return nil, true, nil
	case primitive.ValueTypeNull:
		return nil, false, nil
	}
	if err := validateValue(m.m.typ, v.Contents); err != nil {
		return nil, false, invalidf("Invalid value for %s: %s", m.m.name, err.Error())
	}
	if v.Contents == nil {
		return []byte{}, false, nil
	}
	return v.Contents, false, nil
}

// collExpr builds a collection, tuple or UDT value from element terms.
type collExpr struct {
	t     *Type
	elems []expr // list/set: elements; map: key, value...; tuple/UDT: fields (nil expr = null)
}

func (c *collExpr) eval(x *execCtx) ([]byte, bool, error) {
	vals := make([][]byte, len(c.elems))
	for i, el := range c.elems {
		if el == nil {
			continue
		}
		v, unset, err := el.eval(x)
		if err != nil {
			return nil, false, err
		}
		if unset {
			return nil, false, invalidf("Invalid unset value in %s literal", c.t.CQL())
		}
		if v == nil && c.t.Kind != KindTuple && c.t.Kind != KindUDT {
			return nil, false, invalidf("null is not supported inside collections")
		}
		vals[i] = v
	}
	switch c.t.Kind {
	case KindTuple, KindUDT:
		return encodeFields(vals), false, nil
	case KindSet:
		vals = sortUnique(c.t.Elems[0], vals)
		return encodeCollection(len(vals), vals), false, nil
	case KindMap:
		return encodeMap(c.t, vals), false, nil
	}
	return encodeCollection(len(vals), vals), false, nil
}

func sortUnique(t *Type, vals [][]byte) [][]byte {
	slices.SortStableFunc(vals, func(a, b []byte) int { return compareValues(t, a, b) })
	return slices.CompactFunc(vals, func(a, b []byte) bool { return compareValues(t, a, b) == 0 })
}

// encodeMap sorts key/value pairs by key (last duplicate wins) and encodes.
func encodeMap(t *Type, kv [][]byte) []byte {
	type pair struct{ k, v []byte }
	pairs := make([]pair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, pair{kv[i], kv[i+1]})
	}
	slices.SortStableFunc(pairs, func(a, b pair) int { return compareValues(t.Elems[0], a.k, b.k) })
	out := make([][]byte, 0, len(kv))
	for i, p := range pairs {
		if i+1 < len(pairs) && compareValues(t.Elems[0], p.k, pairs[i+1].k) == 0 {
			continue
		}
		out = append(out, p.k, p.v)
	}
	return encodeCollection(len(out)/2, out)
}

// funcExpr is a call of a built-in function.
type funcExpr struct {
	name string
	args []expr
}

func (f *funcExpr) eval(x *execCtx) ([]byte, bool, error) {
	args := make([][]byte, len(f.args))
	for i, a := range f.args {
		v, unset, err := a.eval(x)
		if err != nil {
			return nil, false, err
		}
		if unset {
			return nil, false, invalidf("Invalid unset value for argument of %s", f.name)
		}
		args[i] = v
	}
	return callFunction(f.name, args, x.now)
}

// functionTypes gives each supported function's result and argument types.
var functionTypes = map[string]struct {
	result *Type
	args   []*Type
}{
	"now":              {Prim(KindTimeUUID), nil},
	"currenttimeuuid":  {Prim(KindTimeUUID), nil},
	"uuid":             {Prim(KindUUID), nil},
	"currenttimestamp": {Prim(KindTimestamp), nil},
	"currentdate":      {Prim(KindDate), nil},
	"mintimeuuid":      {Prim(KindTimeUUID), []*Type{Prim(KindTimestamp)}},
	"maxtimeuuid":      {Prim(KindTimeUUID), []*Type{Prim(KindTimestamp)}},
	"totimestamp":      {Prim(KindTimestamp), []*Type{Prim(KindTimeUUID)}},
	"dateof":           {Prim(KindTimestamp), []*Type{Prim(KindTimeUUID)}},
	"tounixtimestamp":  {Prim(KindBigint), []*Type{Prim(KindTimeUUID)}},
	"unixtimestampof":  {Prim(KindBigint), []*Type{Prim(KindTimeUUID)}},
	"todate":           {Prim(KindDate), []*Type{Prim(KindTimeUUID)}},
}

// uuidEpochOffset is the number of 100 ns intervals between 1582-10-15 and 1970-01-01.
const uuidEpochOffset = 0x01B21DD213814000

func callFunction(name string, args [][]byte, now time.Time) ([]byte, bool, error) {
	switch name {
	case "now", "currenttimeuuid":
		u, err := uuid.NewUUID()
		if err != nil {
			return nil, false, &Error{Code: CodeServer, Msg: "generate timeuuid: " + err.Error()}
		}
		return u[:], false, nil
	case "uuid":
		return encUUID(uuid.New()), false, nil
	case "currenttimestamp":
		return encBigint(now.UnixMilli()), false, nil
	case "currentdate":
		return encDate(now), false, nil
	}
	if len(args) != 1 || args[0] == nil {
		return nil, false, nil
	}
	a := args[0]
	switch name {
	case "mintimeuuid", "maxtimeuuid":
		if len(a) != 8 {
			return nil, false, invalidf("%s expects a timestamp", name)
		}
		fill := byte(0x80)
		if name == "maxtimeuuid" {
			fill = 0x7f
		}
		return timeUUIDAt(int64(binary.BigEndian.Uint64(a))*10000+uuidEpochOffset, fill), false, nil
	case "totimestamp", "dateof", "tounixtimestamp", "unixtimestampof", "todate":
		ms, ok := millisOf(a)
		if !ok {
			return nil, false, invalidf("%s expects a timeuuid, date or timestamp", name)
		}
		switch name {
		case "tounixtimestamp", "unixtimestampof":
			return encBigint(ms), false, nil
		case "todate":
			return encDate(time.UnixMilli(ms)), false, nil
		}
		return encBigint(ms), false, nil
	}
	return nil, false, unsupported("function %s", name)
}

// millisOf reads a timeuuid (16 bytes), timestamp (8) or date (4) as Unix ms.
func millisOf(b []byte) (int64, bool) {
	switch len(b) {
	case 16:
		return (int64(uuidTime(b)) - uuidEpochOffset) / 10000, true
	case 8:
		return int64(binary.BigEndian.Uint64(b)), true
	case 4:
		return (int64(binary.BigEndian.Uint32(b)) - 1<<31) * 86400000, true
	}
	return 0, false
}

func encDate(t time.Time) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(t.Unix()/86400+1<<31))
}

// timeUUIDAt builds a version-1 UUID at t100ns (since 1582) whose clock and
// node bytes are all fill (0x80 for the smallest, 0x7f for the largest).
func timeUUIDAt(t100ns int64, fill byte) []byte {
	u := make([]byte, 16)
	t := uint64(t100ns)
	binary.BigEndian.PutUint32(u[0:], uint32(t))
	binary.BigEndian.PutUint16(u[4:], uint16(t>>32))
	binary.BigEndian.PutUint16(u[6:], uint16(t>>48)&0x0fff|0x1000)
	for i := 8; i < 16; i++ {
		u[i] = fill
	}
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

// compiler turns terms into exprs and records bind-marker metadata.
type compiler struct {
	e        *Engine
	keyspace string
	markers  []marker
}

func (c *compiler) setMarker(m *cql.BindMarker, name string, t *Type) markerExpr {
	for len(c.markers) <= m.Index {
		c.markers = append(c.markers, marker{})
	}
	if m.Name != "" {
		name = m.Name
	}
	c.markers[m.Index] = marker{name: name, typ: t}
	return markerExpr{idx: m.Index, m: c.markers[m.Index]}
}

// term compiles a term that must produce a value of type t; name is the
// bind-marker name used when the term is a marker.
func (c *compiler) term(tm cql.Term, t *Type, name string) (expr, error) {
	switch v := tm.(type) {
	case *cql.BindMarker:
		return c.setMarker(v, name, t), nil
	case *cql.Literal:
		b, err := literalValue(t, v)
		if err != nil {
			return nil, err
		}
		return constExpr(b), nil
	case *cql.TypeCast:
		return c.term(v.Term, t, name)
	case *cql.FunctionCall:
		return c.function(v, t)
	case *cql.ListLiteral:
		switch t.Kind {
		case KindList, KindSet:
			return c.elems(t, v.Elems, t.Elems[0], name)
		}
	case *cql.SetLiteral:
		if t.Kind == KindSet || t.Kind == KindList {
			return c.elems(t, v.Elems, t.Elems[0], name)
		}
	case *cql.MapLiteral:
		return c.mapLiteral(t, v, name)
	case *cql.TupleLiteral:
		// ScyllaDB also accepts a tuple literal for a UDT, fields in order
		// (scylla-cdc-go's TestTypes writes UDTs that way).
		if (t.Kind == KindTuple || t.Kind == KindUDT) && len(v.Elems) <= len(t.Elems) {
			return c.fields(t, v.Elems, name)
		}
	case *cql.UDTLiteral:
		if t.Kind == KindUDT {
			return c.udtLiteral(t, v, name)
		}
	}
	return nil, invalidf("Invalid value %s for %s of type %s", termName(tm), name, t.CQL())
}

func termName(tm cql.Term) string {
	switch v := tm.(type) {
	case *cql.Literal:
		return v.Text
	case *cql.ListLiteral:
		return "list literal"
	case *cql.SetLiteral:
		return "set literal"
	case *cql.MapLiteral:
		return "map literal"
	case *cql.TupleLiteral:
		return "tuple literal"
	case *cql.UDTLiteral:
		return "user type literal"
	}
	return "term"
}

func (c *compiler) elems(t *Type, terms []cql.Term, et *Type, name string) (expr, error) {
	out := &collExpr{t: t, elems: make([]expr, len(terms))}
	for i, tm := range terms {
		x, err := c.term(tm, et, name)
		if err != nil {
			return nil, err
		}
		out.elems[i] = x
	}
	return out, nil
}

func (c *compiler) fields(t *Type, terms []cql.Term, name string) (expr, error) {
	out := &collExpr{t: t, elems: make([]expr, len(t.Elems))}
	for i, tm := range terms {
		x, err := c.term(tm, t.Elems[i], name)
		if err != nil {
			return nil, err
		}
		out.elems[i] = x
	}
	return out, nil
}

func (c *compiler) mapLiteral(t *Type, v *cql.MapLiteral, name string) (expr, error) {
	switch {
	case len(v.Entries) == 0 && (t.Kind == KindSet || t.Kind == KindList || t.Kind == KindMap):
		return &collExpr{t: t}, nil
	case t.Kind != KindMap:
		return nil, invalidf("Invalid map literal for %s of type %s", name, t.CQL())
	}
	out := &collExpr{t: t}
	for _, en := range v.Entries {
		k, err := c.term(en.Key, t.Elems[0], name)
		if err != nil {
			return nil, err
		}
		val, err := c.term(en.Value, t.Elems[1], name)
		if err != nil {
			return nil, err
		}
		out.elems = append(out.elems, k, val)
	}
	return out, nil
}

func (c *compiler) udtLiteral(t *Type, v *cql.UDTLiteral, name string) (expr, error) {
	out := &collExpr{t: t, elems: make([]expr, len(t.Elems))}
	for _, f := range v.Fields {
		i := slices.Index(t.Fields, f.Name)
		if i < 0 {
			return nil, invalidf("Unknown field '%s' in value of user defined type %s", f.Name, t.Name)
		}
		x, err := c.term(f.Value, t.Elems[i], name)
		if err != nil {
			return nil, err
		}
		out.elems[i] = x
	}
	return out, nil
}

func (c *compiler) function(f *cql.FunctionCall, want *Type) (expr, error) {
	ft, ok := functionTypes[f.Name]
	if !ok {
		return nil, unsupported("function %s", f.Name)
	}
	if len(f.Args) != len(ft.args) {
		return nil, invalidf("Invalid number of arguments in call to function %s: %d required but %d provided",
			f.Name, len(ft.args), len(f.Args))
	}
	if want != nil && !typeAccepts(want, ft.result) {
		return nil, invalidf("Type error: cannot assign result of function %s (type %s) to %s",
			f.Name, ft.result.CQL(), want.CQL())
	}
	out := &funcExpr{name: f.Name, args: make([]expr, len(f.Args))}
	for i, a := range f.Args {
		at := ft.args[i]
		// toTimestamp and friends accept dates and timestamps too: take the literal's type.
		if lit, isLit := a.(*cql.Literal); isLit && lit.Kind == cql.LitString && at.Kind == KindTimeUUID {
			at = Prim(KindTimestamp)
		}
		x, err := c.term(a, at, fmt.Sprintf("arg%d(%s)", i, f.Name))
		if err != nil {
			return nil, err
		}
		out.args[i] = x
	}
	return out, nil
}

// typeAccepts reports whether a value of type got can be stored as want.
func typeAccepts(want, got *Type) bool {
	if want.Kind == got.Kind {
		return true
	}
	return want.Kind == KindUUID && got.Kind == KindTimeUUID ||
		want.Kind == KindText && got.Kind == KindAscii
}

// markerMetadata converts the compiler's markers into bind metadata.
func (c *compiler) markerMetadata(ks, table string) []*message.ColumnMetadata {
	out := make([]*message.ColumnMetadata, len(c.markers))
	for i, m := range c.markers {
		var dt datatype.DataType = datatype.Blob
		if m.typ != nil {
			dt = m.typ.DataType()
		}
		out[i] = &message.ColumnMetadata{Keyspace: ks, Table: table, Name: m.name, Index: int32(i), Type: dt}
	}
	return out
}
