package engine

import (
	"context"
	"encoding/binary"
	"math/big"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/google/uuid"
)

func TestCompareValuesOrdersLikeScylla(t *testing.T) {
	tu := func(t100ns int64, clock byte) []byte {
		u := timeUUIDAt(t100ns, clock)
		u[8] = clock // keep the raw byte to exercise signed comparison
		return u
	}
	cases := []struct {
		name string
		typ  *Type
		a, b []byte // a < b
	}{
		{"int negative", Prim(KindInt), encInt(-5), encInt(3)},
		{"bigint", Prim(KindBigint), encBigint(-1 << 40), encBigint(1)},
		{"timeuuid by time first", Prim(KindTimeUUID), tu(100, 0x10), tu(200, 0x00)},
		{"timeuuid signed bytes", Prim(KindTimeUUID), tu(100, 0x80), tu(100, 0x7f)},
		{"varint", Prim(KindVarint), varintBytes(big.NewInt(-300)), varintBytes(big.NewInt(2))},
		{"decimal", Prim(KindDecimal), mustDecimal(t, "1.05"), mustDecimal(t, "1.5")},
		{"double", Prim(KindDouble), encDouble(-0.5), encDouble(0.25)},
		{"text", Prim(KindText), []byte("a"), []byte("b")},
		{"empty first", Prim(KindInt), []byte{}, encInt(-100)},
		{"frozen list", FrozenOf(ListOf(Prim(KindInt))), encodeCollection(1, [][]byte{encInt(-1)}), encodeCollection(1, [][]byte{encInt(1)})},
		{"tuple", TupleOf(Prim(KindInt), Prim(KindText)), encodeFields([][]byte{encInt(1), []byte("b")}), encodeFields([][]byte{encInt(2), []byte("a")})},
	}
	for _, c := range cases {
		if compareValues(c.typ, c.a, c.b) >= 0 || compareValues(c.typ, c.b, c.a) <= 0 || compareValues(c.typ, c.a, c.a) != 0 {
			t.Errorf("%s: order wrong for %x < %x", c.name, c.a, c.b)
		}
	}
}

func mustDecimal(t *testing.T, s string) []byte {
	t.Helper()
	b, ok := parseDecimal(s)
	if !ok {
		t.Fatalf("parse decimal %q", s)
	}
	return b
}

func TestVarintAndVintEncoding(t *testing.T) {
	for v, want := range map[int64]string{0: "00", 127: "7f", 128: "0080", -1: "ff", -128: "80", -129: "ff7f"} {
		if got := varintBytes(big.NewInt(v)); string(got) != string(mustHex(want)) {
			t.Errorf("varint(%d) = %x, want %s", v, got, want)
		}
	}
	// Zig-zag vints: 0 -> 00, -1 -> 01, 1 -> 02, 64 -> 128 needs two bytes (0x80 0x80);
	// 2^40 -> 2^41 needs 42 bits: five extra bytes (first byte 0xf8 | 2).
	for v, want := range map[int64]string{0: "00", -1: "01", 1: "02", 64: "8080", 1 << 40: "fa0000000000"} {
		if got := appendVint(nil, v); string(got) != string(mustHex(want)) {
			t.Errorf("vint(%d) = %x, want %s", v, got, want)
		}
	}
}

func mustHex(s string) []byte {
	out := make([]byte, len(s)/2)
	for i := range out {
		var b byte
		for _, c := range s[2*i : 2*i+2] {
			b <<= 4
			switch {
			case c >= '0' && c <= '9':
				b |= byte(c - '0')
			default:
				b |= byte(c-'a') + 10
			}
		}
		out[i] = b
	}
	return out
}

func TestPartitionsComeInTokenOrder(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE t (k uuid PRIMARY KEY)`)
	for i := 0; i < 50; i++ {
		u := uuid.New()
		if res := query(e, sess, `INSERT INTO t (k) VALUES (?)`, u[:]); isError(res) {
			t.Fatal(res)
		}
	}
	res := e.Handle(context.Background(), sess, &message.Query{Query: `SELECT token(k), k FROM t`, Options: &message.QueryOptions{PageSize: 7}})
	rows := res.(*message.RowsResult)
	prev := int64(-1 << 63)
	for _, r := range rows.Data {
		tok := int64(binary.BigEndian.Uint64(r[0]))
		if tok != Token(r[1]) || tok < prev {
			t.Fatalf("token %d after %d (murmur3 of key: %d)", tok, prev, Token(r[1]))
		}
		prev = tok
	}
	if len(rows.Data) != 7 || rows.Metadata.PagingState == nil {
		t.Errorf("page of %d rows, paging state %x", len(rows.Data), rows.Metadata.PagingState)
	}
}

func TestSumWrapsToColumnWidth(t *testing.T) {
	a := &sumAgg{t: Prim(KindTinyint), sum: new(big.Int)}
	a.add([]byte{100})
	a.add([]byte{100})
	a.add(nil)
	if got := int8(a.result()[0]); got != -56 || a.n != 2 {
		t.Errorf("tinyint sum = %d over %d values, want -56 over 2", got, a.n)
	}
	d := &sumAgg{t: Prim(KindDouble), avg: true, sum: new(big.Int)}
	d.add(encDouble(1))
	d.add(encDouble(2))
	if got := signedBE(d.result()); got != int64(binary.BigEndian.Uint64(encDouble(1.5))) {
		t.Errorf("double avg = %x", d.result())
	}
}
