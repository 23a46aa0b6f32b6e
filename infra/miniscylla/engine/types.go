package engine

import (
	"strings"

	"github.com/datastax/go-cassandra-native-protocol/datatype"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

// Kind is the family of a CQL type.
type Kind int

// The CQL types miniscylla stores.
const (
	KindAscii Kind = iota
	KindText
	KindUUID
	KindTimeUUID
	KindInt
	KindBigint
	KindSmallint
	KindTinyint
	KindBoolean
	KindTimestamp
	KindDate
	KindTime
	KindBlob
	KindDouble
	KindFloat
	KindDecimal
	KindVarint
	KindInet
	KindDuration
	KindCounter
	KindList
	KindSet
	KindMap
	KindTuple
	KindUDT
)

var primitiveTypes = map[Kind]datatype.DataType{
	KindAscii: datatype.Ascii, KindText: datatype.Varchar, KindUUID: datatype.Uuid,
	KindTimeUUID: datatype.Timeuuid, KindInt: datatype.Int, KindBigint: datatype.Bigint,
	KindSmallint: datatype.Smallint, KindTinyint: datatype.Tinyint, KindBoolean: datatype.Boolean,
	KindTimestamp: datatype.Timestamp, KindDate: datatype.Date, KindTime: datatype.Time,
	KindBlob: datatype.Blob, KindDouble: datatype.Double, KindFloat: datatype.Float,
	KindDecimal: datatype.Decimal, KindVarint: datatype.Varint, KindInet: datatype.Inet,
	KindDuration: datatype.Duration, KindCounter: datatype.Counter,
}

// Type is a resolved CQL type. Types are immutable once built.
type Type struct {
	Kind   Kind
	Frozen bool
	// Elems: list/set element; map key and value; tuple and UDT field types.
	Elems []*Type
	// UDT identity and field names.
	Keyspace string
	Name     string
	Fields   []string
}

// Prim returns the primitive type of kind k.
func Prim(k Kind) *Type { return &Type{Kind: k} }

// ListOf returns list<e>.
func ListOf(e *Type) *Type { return &Type{Kind: KindList, Elems: []*Type{e}} }

// SetOf returns set<e>.
func SetOf(e *Type) *Type { return &Type{Kind: KindSet, Elems: []*Type{e}} }

// MapOf returns map<k, v>.
func MapOf(k, v *Type) *Type { return &Type{Kind: KindMap, Elems: []*Type{k, v}} }

// TupleOf returns tuple<e...>; tuples are always frozen.
func TupleOf(e ...*Type) *Type { return &Type{Kind: KindTuple, Elems: e, Frozen: true} }

// FrozenOf returns a frozen copy of t.
func FrozenOf(t *Type) *Type {
	c := *t
	c.Frozen = true
	return &c
}

// IsCollection reports whether t is a list, set or map.
func (t *Type) IsCollection() bool {
	return t.Kind == KindList || t.Kind == KindSet || t.Kind == KindMap
}

// MultiCell reports whether values of t are stored one cell per element:
// non-frozen collections and UDTs.
func (t *Type) MultiCell() bool {
	return !t.Frozen && (t.IsCollection() || t.Kind == KindUDT)
}

// DataType is t's wire type metadata.
func (t *Type) DataType() datatype.DataType {
	switch t.Kind {
	case KindList:
		return datatype.NewList(t.Elems[0].DataType())
	case KindSet:
		return datatype.NewSet(t.Elems[0].DataType())
	case KindMap:
		return datatype.NewMap(t.Elems[0].DataType(), t.Elems[1].DataType())
	case KindTuple:
		ds := make([]datatype.DataType, len(t.Elems))
		for i, e := range t.Elems {
			ds[i] = e.DataType()
		}
		return datatype.NewTuple(ds...)
	case KindUDT:
		ds := make([]datatype.DataType, len(t.Elems))
		for i, e := range t.Elems {
			ds[i] = e.DataType()
		}
		// NewUserDefined only fails on mismatched lengths, which Type rules out.
		u, _ := datatype.NewUserDefined(t.Keyspace, t.Name, t.Fields, ds)
		return u
	}
	return primitiveTypes[t.Kind]
}

// CQL is t as written in schema tables, e.g. "frozen<map<text, text>>".
func (t *Type) CQL() string {
	var s string
	switch t.Kind {
	case KindList, KindSet, KindMap, KindTuple:
		parts := make([]string, len(t.Elems))
		for i, e := range t.Elems {
			parts[i] = e.CQL()
		}
		s = map[Kind]string{KindList: "list", KindSet: "set", KindMap: "map", KindTuple: "tuple"}[t.Kind] +
			"<" + strings.Join(parts, ", ") + ">"
	case KindUDT:
		s = t.Name
	default:
		s = t.DataType().AsCql()
		if t.Kind == KindText {
			s = "text"
		}
	}
	if t.Frozen && t.Kind != KindTuple {
		return "frozen<" + s + ">"
	}
	return s
}

// String returns the CQL spelling of t.
func (t *Type) String() string { return t.CQL() }

// cqlKinds maps the parser's primitive type kinds to ours.
var cqlKinds = map[cql.TypeKind]Kind{
	cql.TypeAscii: KindAscii, cql.TypeBigint: KindBigint, cql.TypeBlob: KindBlob,
	cql.TypeBoolean: KindBoolean, cql.TypeCounter: KindCounter, cql.TypeDate: KindDate,
	cql.TypeDecimal: KindDecimal, cql.TypeDouble: KindDouble, cql.TypeDuration: KindDuration,
	cql.TypeFloat: KindFloat, cql.TypeInet: KindInet, cql.TypeInt: KindInt,
	cql.TypeSmallint: KindSmallint, cql.TypeText: KindText, cql.TypeTime: KindTime,
	cql.TypeTimestamp: KindTimestamp, cql.TypeTimeuuid: KindTimeUUID, cql.TypeTinyint: KindTinyint,
	cql.TypeUUID: KindUUID, cql.TypeVarint: KindVarint,
}

// UDTLookup resolves a user-defined type name within a keyspace.
type UDTLookup func(keyspace, name string) (*Type, bool)

// resolveType turns a parsed type into a Type, resolving UDT names in keyspace ks.
func resolveType(ks string, spec *cql.Type, lookup UDTLookup) (*Type, error) {
	if k, ok := cqlKinds[spec.Kind]; ok {
		return Prim(k), nil
	}
	params := make([]*Type, len(spec.Elems))
	for i, p := range spec.Elems {
		pt, err := resolveType(ks, p, lookup)
		if err != nil {
			return nil, err
		}
		// Elements of collections and tuples are always frozen.
		if pt.IsCollection() || pt.Kind == KindUDT {
			pt = FrozenOf(pt)
		}
		params[i] = pt
	}
	var t *Type
	switch {
	case spec.Kind == cql.TypeList && len(params) == 1:
		t = ListOf(params[0])
	case spec.Kind == cql.TypeSet && len(params) == 1:
		t = SetOf(params[0])
	case spec.Kind == cql.TypeMap && len(params) == 2:
		t = MapOf(params[0], params[1])
	case spec.Kind == cql.TypeTuple && len(params) > 0:
		return TupleOf(params...), nil
	case spec.Kind == cql.TypeUDT:
		uks := spec.Keyspace
		if uks == "" {
			uks = ks
		}
		u, ok := lookup(uks, spec.Name)
		if !ok {
			return nil, invalidf("Unknown type %s.%s", uks, spec.Name)
		}
		t = u
	default:
		return nil, invalidf("invalid type %v", spec.Kind)
	}
	if spec.Frozen {
		t = FrozenOf(t)
	}
	return t, nil
}
