package engine

import (
	"encoding/binary"
	"encoding/hex"
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

// literalValue converts a CQL constant into the encoding of type t. NULL
// yields nil.
func literalValue(t *Type, lit *cql.Literal) ([]byte, error) {
	if lit.Kind == cql.LitNull {
		return nil, nil
	}
	b, ok := convertLiteral(t, lit)
	if !ok {
		return nil, invalidf("Invalid %s constant (%s) for a value of type %s", literalKindName(lit.Kind), lit.Text, t.CQL())
	}
	return b, nil
}

func literalKindName(k cql.LiteralKind) string {
	switch k {
	case cql.LitString:
		return "STRING"
	case cql.LitInteger:
		return "INTEGER"
	case cql.LitFloat:
		return "FLOAT"
	case cql.LitBool:
		return "BOOLEAN"
	case cql.LitUUID:
		return "UUID"
	case cql.LitBlob:
		return "HEX"
	case cql.LitDuration:
		return "DURATION"
	}
	return "constant"
}

func convertLiteral(t *Type, lit *cql.Literal) ([]byte, bool) {
	s := lit.Text
	switch lit.Kind {
	case cql.LitString:
		return stringLiteral(t.Kind, s)
	case cql.LitInteger:
		return integerLiteral(t.Kind, s)
	case cql.LitFloat:
		return floatLiteral(t.Kind, s)
	case cql.LitBool:
		if t.Kind == KindBoolean {
			if strings.EqualFold(s, "true") {
				return []byte{1}, true
			}
			return []byte{0}, true
		}
	case cql.LitUUID:
		u, err := uuid.Parse(s)
		if err == nil && (t.Kind == KindUUID || (t.Kind == KindTimeUUID && u.Version() == 1)) {
			return u[:], true
		}
	case cql.LitBlob:
		if t.Kind == KindBlob {
			b, err := hex.DecodeString(s)
			return b, err == nil
		}
	case cql.LitDuration:
		if t.Kind == KindDuration {
			return parseDuration(s)
		}
	}
	return nil, false
}

func stringLiteral(k Kind, s string) ([]byte, bool) {
	switch k {
	case KindText, KindAscii:
		return []byte(s), true
	case KindTimestamp:
		ms, ok := parseTimestamp(s)
		return binary.BigEndian.AppendUint64(nil, uint64(ms)), ok
	case KindDate:
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			return nil, false
		}
		days := d.Unix() / 86400
		return binary.BigEndian.AppendUint32(nil, uint32(days+1<<31)), true
	case KindTime:
		return parseTimeOfDay(s)
	case KindInet:
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, false
		}
		if v4 := ip.To4(); v4 != nil {
			return []byte(v4), true
		}
		return []byte(ip), true
	case KindDuration:
		return parseDuration(s)
	case KindUUID, KindTimeUUID:
		return convertLiteral(Prim(k), &cql.Literal{Kind: cql.LitUUID, Text: s})
	case KindBigint, KindInt, KindSmallint, KindTinyint, KindVarint, KindDecimal, KindDouble, KindFloat, KindCounter:
		if b, ok := integerLiteral(k, s); ok {
			return b, true
		}
		return floatLiteral(k, s)
	case KindBoolean:
		return convertLiteral(Prim(k), &cql.Literal{Kind: cql.LitBool, Text: s})
	}
	return nil, false
}

func integerLiteral(k Kind, s string) ([]byte, bool) {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil, false
	}
	bitsFor := map[Kind]int{KindTinyint: 8, KindSmallint: 16, KindInt: 32, KindBigint: 64, KindCounter: 64, KindTimestamp: 64, KindTime: 64}
	if n, fixed := bitsFor[k]; fixed {
		if !v.IsInt64() {
			return nil, false
		}
		i := v.Int64()
		if i < -(1<<(n-1)) || i > 1<<(n-1)-1 {
			return nil, false
		}
		return binary.BigEndian.AppendUint64(nil, uint64(i))[8-n/8:], true
	}
	switch k {
	case KindDate:
		if !v.IsUint64() || v.Uint64() > math.MaxUint32 {
			return nil, false
		}
		return binary.BigEndian.AppendUint32(nil, uint32(v.Uint64())), true
	case KindVarint:
		return varintBytes(v), true
	case KindDecimal:
		return append([]byte{0, 0, 0, 0}, varintBytes(v)...), true
	case KindDouble, KindFloat:
		return floatLiteral(k, s)
	}
	return nil, false
}

func floatLiteral(k Kind, s string) ([]byte, bool) {
	switch k {
	case KindDouble, KindFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, false
		}
		if k == KindFloat {
			return binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(f))), true
		}
		return binary.BigEndian.AppendUint64(nil, math.Float64bits(f)), true
	case KindDecimal:
		return parseDecimal(s)
	}
	return nil, false
}

// parseDecimal encodes "123.45" or "1.5e3" as scale + unscaled varint.
func parseDecimal(s string) ([]byte, bool) {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return nil, false
		}
		mant, exp = s[:i], e
	}
	scale := 0
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		scale = len(mant) - i - 1
		mant = mant[:i] + mant[i+1:]
	}
	v, ok := new(big.Int).SetString(mant, 10)
	if !ok {
		return nil, false
	}
	scale -= exp
	return append(binary.BigEndian.AppendUint32(nil, uint32(int32(scale))), varintBytes(v)...), true
}

var timestampLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z0700",
	"2006-01-02 15:04Z0700",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02Z0700",
	"2006-01-02",
}

// parseTimestamp accepts the ISO-8601 forms CQL accepts (UTC when no zone)
// and plain milliseconds.
func parseTimestamp(s string) (int64, bool) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, true
	}
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

func parseTimeOfDay(s string) ([]byte, bool) {
	t, err := time.Parse("15:04:05.999999999", s)
	if err != nil {
		return nil, false
	}
	ns := int64(t.Hour())*int64(time.Hour) + int64(t.Minute())*int64(time.Minute) +
		int64(t.Second())*int64(time.Second) + int64(t.Nanosecond())
	return binary.BigEndian.AppendUint64(nil, uint64(ns)), true
}

var (
	durationUnitRe = regexp.MustCompile(`(?i)(\d+)(mo|ms|us|µs|ns|y|w|d|h|m|s)`)
	durationISORe  = regexp.MustCompile(`^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)
)

// parseDuration encodes a CQL duration (1h30m, 2mo3d, P1DT2H) as three
// zig-zag vints: months, days, nanoseconds.
func parseDuration(s string) ([]byte, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var months, days, nanos int64
	if m := durationISORe.FindStringSubmatch(strings.ToUpper(s)); m != nil && s != "P" {
		n := func(i int) int64 { v, _ := strconv.ParseInt(m[i], 10, 64); return v }
		months = n(1)*12 + n(2)
		days = n(3)*7 + n(4)
		nanos = n(5)*int64(time.Hour) + n(6)*int64(time.Minute) + n(7)*int64(time.Second)
	} else {
		ms := durationUnitRe.FindAllStringSubmatchIndex(s, -1)
		pos := 0
		for _, m := range ms {
			if m[0] != pos {
				return nil, false
			}
			pos = m[1]
			v, err := strconv.ParseInt(s[m[2]:m[3]], 10, 64)
			if err != nil {
				return nil, false
			}
			switch strings.ToLower(s[m[4]:m[5]]) {
			case "y":
				months += 12 * v
			case "mo":
				months += v
			case "w":
				days += 7 * v
			case "d":
				days += v
			case "h":
				nanos += v * int64(time.Hour)
			case "m":
				nanos += v * int64(time.Minute)
			case "s":
				nanos += v * int64(time.Second)
			case "ms":
				nanos += v * int64(time.Millisecond)
			case "us", "µs":
				nanos += v * int64(time.Microsecond)
			case "ns":
				nanos += v
			}
		}
		if pos != len(s) || len(ms) == 0 {
			return nil, false
		}
	}
	if neg {
		months, days, nanos = -months, -days, -nanos
	}
	out := appendVint(nil, months)
	out = appendVint(out, days)
	return appendVint(out, nanos), true
}

// appendVint writes Cassandra's zig-zag variable-length integer: the count
// of leading one bits in the first byte is the number of extra bytes.
func appendVint(out []byte, v int64) []byte {
	z := uint64(v<<1) ^ uint64(v>>63)
	// With n extra bytes the value has 7(n+1) bits; nine bytes hold all 64.
	extra := 0
	for extra < 8 && z>>(7*(extra+1)) != 0 {
		extra++
	}
	if extra == 8 {
		out = append(out, 0xff)
		return binary.BigEndian.AppendUint64(out, z)
	}
	first := byte(0xff<<(8-extra)) | byte(z>>(8*extra))
	out = append(out, first)
	for i := extra - 1; i >= 0; i-- {
		out = append(out, byte(z>>(8*i)))
	}
	return out
}
