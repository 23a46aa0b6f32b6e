package engine

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"math/big"
)

// Values travel and are stored in their protocol v4 encoding. This file holds
// the typed comparison and the collection (de)serialization; literal.go turns
// CQL constants into encodings.

// compareValues orders two encodings of type t as CQL does for clustering
// keys and set/map elements. It tolerates malformed input (never panics) by
// falling back to byte order.
func compareValues(t *Type, a, b []byte) int {
	if len(a) == 0 || len(b) == 0 {
		return cmp.Compare(len(a), len(b))
	}
	switch t.Kind {
	case KindInt, KindBigint, KindSmallint, KindTinyint, KindTimestamp, KindTime, KindCounter:
		if len(a) == len(b) && len(a) <= 8 {
			return cmp.Compare(signedBE(a), signedBE(b))
		}
	case KindDouble:
		if len(a) == 8 && len(b) == 8 {
			return cmp.Compare(math.Float64frombits(binary.BigEndian.Uint64(a)), math.Float64frombits(binary.BigEndian.Uint64(b)))
		}
	case KindFloat:
		if len(a) == 4 && len(b) == 4 {
			return cmp.Compare(math.Float32frombits(binary.BigEndian.Uint32(a)), math.Float32frombits(binary.BigEndian.Uint32(b)))
		}
	case KindVarint:
		return varintOf(a).Cmp(varintOf(b))
	case KindDecimal:
		if ra, rb := decimalRat(a), decimalRat(b); ra != nil && rb != nil {
			return ra.Cmp(rb)
		}
	case KindTimeUUID:
		return compareTimeUUID(a, b)
	case KindUUID:
		if len(a) == 16 && len(b) == 16 && a[6]>>4 == 1 && b[6]>>4 == 1 {
			return compareTimeUUID(a, b)
		}
	case KindList, KindSet:
		return compareItems(a, b, decodeCollection, func(int) *Type { return t.Elems[0] })
	case KindMap:
		return compareItems(a, b, decodeCollection, func(i int) *Type { return t.Elems[i%2] })
	case KindTuple, KindUDT:
		return compareItems(a, b, decodeFields, func(i int) *Type {
			if i < len(t.Elems) {
				return t.Elems[i]
			}
			return nil
		})
	}
	return bytes.Compare(a, b)
}

// signedBE decodes a big-endian two's complement integer of up to 8 bytes.
func signedBE(b []byte) int64 {
	var v int64
	if len(b) > 0 && b[0]&0x80 != 0 {
		v = -1
	}
	for _, c := range b {
		v = v<<8 | int64(c)
	}
	return v
}

func varintOf(b []byte) *big.Int {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	return v
}

func varintBytes(v *big.Int) []byte {
	if v.Sign() >= 0 {
		b := v.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// Two's complement of a negative number with minimal length.
	n := v.BitLen()/8 + 1
	m := new(big.Int).Add(v, new(big.Int).Lsh(big.NewInt(1), uint(n*8)))
	b := m.FillBytes(make([]byte, n))
	for len(b) > 1 && b[0] == 0xff && b[1]&0x80 != 0 {
		b = b[1:]
	}
	return b
}

func decimalRat(b []byte) *big.Rat {
	if len(b) < 5 {
		return nil
	}
	scale := int32(binary.BigEndian.Uint32(b))
	r := new(big.Rat).SetInt(varintOf(b[4:]))
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(absInt32(scale))), nil))
	if scale > 0 {
		return r.Quo(r, p)
	}
	return r.Mul(r, p)
}

func absInt32(v int32) int64 {
	if v < 0 {
		return -int64(v)
	}
	return int64(v)
}

// compareTimeUUID orders by embedded timestamp, then bytes 8-15 as signed
// bytes, as ScyllaDB does.
func compareTimeUUID(a, b []byte) int {
	if len(a) != 16 || len(b) != 16 {
		return bytes.Compare(a, b)
	}
	if c := cmp.Compare(uuidTime(a), uuidTime(b)); c != 0 {
		return c
	}
	for i := 8; i < 16; i++ {
		if c := cmp.Compare(int8(a[i]), int8(b[i])); c != 0 {
			return c
		}
	}
	return 0
}

// uuidTime is the 60-bit timestamp of a version-1 UUID (100 ns since 1582).
func uuidTime(u []byte) uint64 {
	return uint64(binary.BigEndian.Uint16(u[6:])&0x0fff)<<48 |
		uint64(binary.BigEndian.Uint16(u[4:]))<<32 |
		uint64(binary.BigEndian.Uint32(u[0:]))
}

// compareItems orders two list/set/map or tuple/UDT encodings item by item,
// typeOf giving each item's type (nil stops the walk), then by item count.
// Malformed input falls back to byte order.
func compareItems(a, b []byte, split func([]byte) ([][]byte, bool), typeOf func(i int) *Type) int {
	ea, okA := split(a)
	eb, okB := split(b)
	if !okA || !okB {
		return bytes.Compare(a, b)
	}
	for i := 0; i < len(ea) && i < len(eb); i++ {
		et := typeOf(i)
		if et == nil {
			break
		}
		if c := compareValues(et, ea[i], eb[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ea), len(eb))
}

// decodeCollection splits a list/set/map encoding into its items (a map
// yields key, value, key, value...). ok is false on malformed input.
func decodeCollection(b []byte) (items [][]byte, ok bool) {
	if len(b) < 4 {
		return nil, false
	}
	n := int(int32(binary.BigEndian.Uint32(b)))
	b = b[4:]
	if n < 0 || n > len(b) {
		return nil, false
	}
	for len(b) > 0 {
		v, rest, ok := readBytes(b)
		if !ok {
			return nil, false
		}
		items = append(items, v)
		b = rest
	}
	return items, len(items) == n || len(items) == 2*n
}

// decodeFields splits a tuple/UDT encoding; null fields are nil.
func decodeFields(b []byte) (fields [][]byte, ok bool) {
	for len(b) > 0 {
		v, rest, ok := readBytes(b)
		if !ok {
			return nil, false
		}
		fields = append(fields, v)
		b = rest
	}
	return fields, true
}

func readBytes(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := int32(binary.BigEndian.Uint32(b))
	b = b[4:]
	if n < 0 {
		return nil, b, true
	}
	if int(n) > len(b) {
		return nil, nil, false
	}
	return b[:n:n], b[n:], true
}

// encodeCollection joins items (key, value, ... for maps) with count n.
func encodeCollection(n int, items [][]byte) []byte {
	size := 4
	for _, it := range items {
		size += 4 + len(it)
	}
	out := binary.BigEndian.AppendUint32(make([]byte, 0, size), uint32(n))
	for _, it := range items {
		out = appendBytes(out, it)
	}
	return out
}

// encodeFields joins tuple/UDT fields; nil fields encode as null.
func encodeFields(fields [][]byte) []byte {
	var out []byte
	for _, f := range fields {
		out = appendBytes(out, f)
	}
	if out == nil {
		out = []byte{}
	}
	return out
}

func appendBytes(out, v []byte) []byte {
	if v == nil {
		return binary.BigEndian.AppendUint32(out, math.MaxUint32)
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(v)))
	return append(out, v...)
}

// fixedSize is the encoded length of fixed-width types, or 0.
var fixedSize = [...]int{
	KindInt: 4, KindBigint: 8, KindSmallint: 2, KindTinyint: 1, KindBoolean: 1,
	KindTimestamp: 8, KindDate: 4, KindTime: 8, KindDouble: 8, KindFloat: 4,
	KindUUID: 16, KindTimeUUID: 16, KindCounter: 8, KindUDT: 0,
}

// validateValue checks that b is a well-formed encoding of t, so that bad
// client bytes are rejected up front instead of corrupting order later.
func validateValue(t *Type, b []byte) error {
	if len(b) == 0 {
		return nil // empty values are legal for every type
	}
	if n := fixedSize[t.Kind]; n != 0 && len(b) != n {
		return invalidf("Expected %d bytes for a %s value, got %d", n, t.CQL(), len(b))
	}
	switch t.Kind {
	case KindTimeUUID:
		if b[6]>>4 != 1 {
			return invalidf("Unsupported UUID version %d for a timeuuid", b[6]>>4)
		}
	case KindInet:
		if len(b) != 4 && len(b) != 16 {
			return invalidf("Invalid inet value of %d bytes", len(b))
		}
	case KindDecimal:
		if len(b) < 4 {
			return invalidf("Invalid decimal value of %d bytes", len(b))
		}
	case KindList, KindSet, KindMap:
		return validateCollection(t, b)
	case KindTuple, KindUDT:
		fields, ok := decodeFields(b)
		if !ok || len(fields) > len(t.Elems) {
			return invalidf("Invalid %s value", t.CQL())
		}
		for i, f := range fields {
			if f != nil {
				if err := validateValue(t.Elems[i], f); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func validateCollection(t *Type, b []byte) error {
	items, ok := decodeCollection(b)
	n := len(items)
	if t.Kind == KindMap {
		if n%2 != 0 {
			ok = false
		}
		n /= 2
	}
	if !ok || int(binary.BigEndian.Uint32(b)) != n {
		return invalidf("Invalid %s value", t.CQL())
	}
	for i, it := range items {
		et := t.Elems[0]
		if t.Kind == KindMap {
			et = t.Elems[i%2]
		}
		if it == nil {
			return invalidf("null is not supported inside collections")
		}
		if err := validateValue(et, it); err != nil {
			return err
		}
	}
	return nil
}
