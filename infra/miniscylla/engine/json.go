package engine

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

// SELECT JSON and INSERT JSON: values travel as the JSON forms Cassandra
// and ScyllaDB use (text quoted, uuids, timestamps and blobs as strings,
// collections as arrays and objects), so that drivers and tools written
// against them read and write the same documents here.

// jsonColumn is the name of SELECT JSON's only result column.
const jsonColumn = "[json]"

// plainIdent is a column name that needs no quotes in CQL.
var plainIdent = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// jsonKey is the document key of a result column: a column name that
// needs quoting in CQL keeps its quotes, as Cassandra prints it.
func jsonKey(name string, isColumn bool) string {
	if isColumn && !plainIdent.MatchString(name) {
		return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	}
	return name
}

// renderJSONRow turns one result row into the [json] column's value.
func (p *selectPlan) renderJSONRow(row [][]byte) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, s := range p.selectors {
		if i > 0 {
			b.WriteString(", ")
		}
		writeJSONString(&b, jsonKey(s.name, p.table.Column(s.name) != nil))
		b.WriteString(": ")
		appendJSON(&b, s.typ, row[i])
	}
	b.WriteByte('}')
	return b.Bytes()
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// appendJSON writes v, a value of type t, as JSON; nil is null.
func appendJSON(b *bytes.Buffer, t *Type, v []byte) {
	if v == nil {
		b.WriteString("null")
		return
	}
	switch t.Kind {
	case KindAscii, KindText:
		writeJSONString(b, string(v))
	case KindBoolean:
		b.WriteString(strconv.FormatBool(len(v) > 0 && v[0] != 0))
	case KindInt, KindBigint, KindSmallint, KindTinyint, KindCounter:
		if len(v) == 0 {
			b.WriteString("null")
			return
		}
		b.WriteString(strconv.FormatInt(signedBE(v), 10))
	case KindVarint:
		b.WriteString(varintOf(v).String())
	case KindDecimal:
		b.WriteString(decimalString(v))
	case KindFloat, KindDouble:
		f := floatOf(t.Kind, v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			writeJSONString(b, strconv.FormatFloat(f, 'g', -1, 64))
			return
		}
		bits := 64
		if t.Kind == KindFloat {
			bits = 32
		}
		out := strconv.FormatFloat(f, 'g', -1, bits)
		if !strings.ContainsAny(out, ".e") {
			out += ".0" // Java prints whole doubles as 3.0
		}
		b.WriteString(out)
	case KindList, KindSet, KindTuple:
		items, _ := decodeCollection(v)
		if t.Kind == KindTuple {
			items, _ = decodeFields(v)
		}
		b.WriteByte('[')
		for i, it := range items {
			if i > 0 {
				b.WriteString(", ")
			}
			et := t.Elems[0]
			if t.Kind == KindTuple {
				et = t.Elems[min(i, len(t.Elems)-1)]
			}
			appendJSON(b, et, it)
		}
		b.WriteByte(']')
	case KindMap, KindUDT:
		appendJSONObject(b, t, v)
	default:
		writeJSONString(b, scalarString(t.Kind, v))
	}
}

// appendJSONObject writes a map or UDT value. Map keys that are not text
// become the string of their JSON form, as Cassandra writes them.
func appendJSONObject(b *bytes.Buffer, t *Type, v []byte) {
	b.WriteByte('{')
	if t.Kind == KindUDT {
		fields, _ := decodeFields(v)
		for i, name := range t.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONString(b, jsonKey(name, true))
			b.WriteString(": ")
			var fv []byte
			if i < len(fields) {
				fv = fields[i]
			}
			appendJSON(b, t.Elems[i], fv)
		}
		b.WriteByte('}')
		return
	}
	items, _ := decodeCollection(v)
	for i := 0; i+1 < len(items); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		var kb bytes.Buffer
		appendJSON(&kb, t.Elems[0], items[i])
		key := kb.String()
		if s, err := strconv.Unquote(key); err == nil && strings.HasPrefix(key, `"`) {
			key = s
		}
		writeJSONString(b, key)
		b.WriteString(": ")
		appendJSON(b, t.Elems[1], items[i+1])
	}
	b.WriteByte('}')
}

func floatOf(k Kind, v []byte) float64 {
	if k == KindFloat && len(v) == 4 {
		return float64(math.Float32frombits(binary.BigEndian.Uint32(v)))
	}
	if len(v) == 8 {
		return math.Float64frombits(binary.BigEndian.Uint64(v))
	}
	return math.NaN()
}

func decimalString(v []byte) string {
	if len(v) < 4 {
		return "0"
	}
	scale := int32(binary.BigEndian.Uint32(v))
	unscaled := varintOf(v[4:])
	if scale <= 0 {
		return new(big.Int).Mul(unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-scale)), nil)).String()
	}
	s := new(big.Int).Abs(unscaled).String()
	for len(s) <= int(scale) {
		s = "0" + s
	}
	out := s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	if unscaled.Sign() < 0 {
		out = "-" + out
	}
	return out
}

// scalarString renders the types JSON carries as strings.
func scalarString(k Kind, v []byte) string {
	switch k {
	case KindUUID, KindTimeUUID:
		if u, err := uuid.FromBytes(v); err == nil {
			return u.String()
		}
	case KindTimestamp:
		if len(v) == 8 {
			return time.UnixMilli(signedBE(v)).UTC().Format("2006-01-02 15:04:05.000Z")
		}
	case KindDate:
		if len(v) == 4 {
			days := int64(binary.BigEndian.Uint32(v)) - 1<<31
			return time.Unix(days*86400, 0).UTC().Format("2006-01-02")
		}
	case KindTime:
		if len(v) == 8 {
			ns := signedBE(v)
			return fmt.Sprintf("%02d:%02d:%02d.%09d", ns/int64(time.Hour), ns/int64(time.Minute)%60, ns/int64(time.Second)%60, ns%int64(time.Second))
		}
	case KindInet:
		return net.IP(v).String()
	case KindDuration:
		return durationString(v)
	case KindBlob:
		return "0x" + hex.EncodeToString(v)
	}
	return "0x" + hex.EncodeToString(v)
}

// durationString renders months, days and nanoseconds in CQL's unit form.
func durationString(v []byte) string {
	var parts [3]int64
	for i := range parts {
		var ok bool
		if parts[i], v, ok = readVint(v); !ok {
			return ""
		}
	}
	months, days, nanos := parts[0], parts[1], parts[2]
	var b strings.Builder
	if months < 0 || days < 0 || nanos < 0 {
		b.WriteByte('-')
		months, days, nanos = -months, -days, -nanos
	}
	unit := func(n int64, u string) {
		if n > 0 {
			b.WriteString(strconv.FormatInt(n, 10) + u)
		}
	}
	unit(months/12, "y")
	unit(months%12, "mo")
	unit(days, "d")
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "us"}, {1, "ns"}} {
		unit(nanos/int64(u.d), u.name)
		nanos %= int64(u.d)
	}
	if b.Len() == 0 || b.String() == "-" {
		return "0s"
	}
	return b.String()
}

// readVint reads one zig-zag vint written by appendVint.
func readVint(b []byte) (int64, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	extra := 0
	for extra < 8 && b[0]&(0x80>>extra) != 0 {
		extra++
	}
	if len(b) < 1+extra {
		return 0, nil, false
	}
	var z uint64
	if extra < 8 {
		z = uint64(b[0] & (0xff >> (extra + 1)))
	}
	for _, c := range b[1 : 1+extra] {
		z = z<<8 | uint64(c)
	}
	return int64(z>>1) ^ -int64(z&1), b[1+extra:], true
}

// jsonDoc is the document of one INSERT JSON; every column's value is a
// jsonField reading it. It is parsed once per execution (execCtx.jsonDocs).
type jsonDoc struct {
	src   expr
	table *Table
}

// fields parses the document for x and checks its keys against the table.
func (d *jsonDoc) fields(x *execCtx) (map[string]json.RawMessage, error) {
	if m, ok := x.jsonDocs[d]; ok {
		return m, nil
	}
	raw, unset, err := d.src.eval(x)
	if err != nil {
		return nil, err
	}
	if unset || raw == nil {
		return nil, invalidf("Got null for INSERT JSON values")
	}
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || dec.More() || doc == nil {
		return nil, invalidf("Could not decode JSON string as a map: %s", jsonErr(err, "not a JSON object"))
	}
	m := make(map[string]json.RawMessage, len(doc))
	for k, v := range doc {
		name := k
		if uq, ok := strings.CutPrefix(k, `"`); ok && strings.HasSuffix(uq, `"`) && len(uq) > 0 {
			name = strings.ReplaceAll(uq[:len(uq)-1], `""`, `"`)
		} else {
			name = strings.ToLower(k)
		}
		if d.table.Column(name) == nil {
			return nil, invalidf("JSON values map contains unrecognized column: %s", k)
		}
		m[name] = v
	}
	if x.jsonDocs == nil {
		x.jsonDocs = map[*jsonDoc]map[string]json.RawMessage{}
	}
	x.jsonDocs[d] = m
	return m, nil
}

func jsonErr(err error, fallback string) string {
	if err != nil {
		return err.Error()
	}
	return fallback
}

// jsonField is one column's value taken from an INSERT JSON document.
type jsonField struct {
	doc          *jsonDoc
	col          *Column
	defaultUnset bool
}

func (f jsonField) eval(x *execCtx) ([]byte, bool, error) {
	m, err := f.doc.fields(x)
	if err != nil {
		return nil, false, err
	}
	raw, ok := m[f.col.Name]
	if !ok {
		if f.col.Kind == PartitionKey || f.col.Kind == ClusteringKey {
			return nil, false, invalidf("Invalid null value in condition for column %s", f.col.Name)
		}
		return nil, f.defaultUnset, nil
	}
	v, err := fromJSON(f.col.Type, raw)
	if err != nil {
		return nil, false, invalidf("Error decoding JSON value for %s: %s", f.col.Name, err.Error())
	}
	return v, false, nil
}

// fromJSON converts one JSON value into the encoding of type t.
func fromJSON(t *Type, raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return nil, nil
	}
	bad := func() ([]byte, error) {
		return nil, fmt.Errorf("unable to make %s from %s", t.CQL(), string(raw))
	}
	switch t.Kind {
	case KindList, KindSet, KindTuple:
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return bad()
		}
		if t.Kind == KindTuple && len(elems) != len(t.Elems) {
			return nil, fmt.Errorf("expected %d tuple components, got %d", len(t.Elems), len(elems))
		}
		vals := make([][]byte, len(elems))
		for i, e := range elems {
			et := t.Elems[0]
			if t.Kind == KindTuple {
				et = t.Elems[i]
			}
			v, err := fromJSON(et, e)
			if err != nil {
				return nil, err
			}
			if v == nil && t.Kind != KindTuple {
				return nil, fmt.Errorf("null is not allowed in a %s", t.CQL())
			}
			vals[i] = v
		}
		switch t.Kind {
		case KindTuple:
			return encodeFields(vals), nil
		case KindSet:
			vals = sortUnique(t.Elems[0], vals)
		}
		return encodeCollection(len(vals), vals), nil
	case KindMap, KindUDT:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return bad()
		}
		if t.Kind == KindUDT {
			return udtFromJSON(t, obj)
		}
		kv := make([][]byte, 0, 2*len(obj))
		for k, v := range obj {
			kraw := json.RawMessage(strconv.Quote(k))
			if kt := t.Elems[0].Kind; kt != KindText && kt != KindAscii && json.Valid([]byte(k)) {
				kraw = json.RawMessage(k)
			}
			kb, err := fromJSON(t.Elems[0], kraw)
			if err != nil {
				return nil, err
			}
			vb, err := fromJSON(t.Elems[1], v)
			if err != nil {
				return nil, err
			}
			if kb == nil || vb == nil {
				return nil, fmt.Errorf("null is not allowed in a %s", t.CQL())
			}
			kv = append(kv, kb, vb)
		}
		return encodeMap(t, kv), nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if t.Kind == KindBlob {
			h, ok := strings.CutPrefix(s, "0x")
			b, err := hex.DecodeString(h)
			if !ok || err != nil {
				return nil, fmt.Errorf("value %q is not a hex string starting with 0x", s)
			}
			return b, nil
		}
		if v, ok := stringLiteral(t.Kind, s); ok {
			return v, nil
		}
		return bad()
	}
	lit := &cql.Literal{Text: string(raw)}
	switch {
	case string(raw) == "true" || string(raw) == "false":
		lit.Kind = cql.LitBool
	case strings.ContainsAny(lit.Text, ".eE"):
		lit.Kind = cql.LitFloat
	default:
		lit.Kind = cql.LitInteger
	}
	if t.Kind == KindTimestamp && lit.Kind == cql.LitInteger {
		ms, err := strconv.ParseInt(lit.Text, 10, 64)
		if err != nil {
			return bad()
		}
		return encBigint(ms), nil
	}
	if v, ok := convertLiteral(t, lit); ok {
		return v, nil
	}
	return bad()
}

func udtFromJSON(t *Type, obj map[string]json.RawMessage) ([]byte, error) {
	fields := make([][]byte, len(t.Fields))
	for k, v := range obj {
		i := fieldIndex(t, strings.Trim(k, `"`))
		if i < 0 {
			return nil, fmt.Errorf("unknown field %s in value of user-defined type %s", k, t.Name)
		}
		b, err := fromJSON(t.Elems[i], v)
		if err != nil {
			return nil, err
		}
		fields[i] = b
	}
	return encodeFields(fields), nil
}

// insertJSON compiles INSERT INTO t JSON ...: every column takes its value
// from the document; a column it omits is null (DEFAULT NULL) or left as
// it is (DEFAULT UNSET).
func (c *compiler) insertJSON(s *cql.InsertStatement, t *Table) (*writePlan, error) {
	src, err := c.term(s.JSON, Prim(KindText), jsonColumn)
	if err != nil {
		return nil, err
	}
	p, err := c.insertPlan(s, t)
	if err != nil {
		return nil, err
	}
	doc := &jsonDoc{src: src, table: t}
	for _, col := range t.Columns {
		p.insertColumn(col, jsonField{doc: doc, col: col, defaultUnset: s.DefaultUnset})
	}
	if lit, ok := s.JSON.(*cql.Literal); ok {
		// A literal document is checked once, at prepare time.
		if _, err := doc.fields(&execCtx{e: c.e}); err != nil {
			return nil, err
		}
		if lit.Kind != cql.LitString {
			return nil, invalidf("INSERT JSON takes a string or a bind marker")
		}
	}
	return p, nil
}
