package kafka

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/messages"
)

// valueOverhead bounds the value's bytes besides the event's strings, payload
// and headers: every field set, with the longest int32 and timestamp.
const valueOverhead = len(`{"eventId":"","aggregateType":"","aggregateId":"","aggregateVersion":-2147483648,` +
	`"eventType":"","payload":"","headers":{},"occurredAt":"0001-01-01T00:00:00.000000000Z"}`)

// appendValue appends the record value of ev: the bytes messages.JSON(protojson.MarshalOptions{}, ev)
// gives, written without reflection (protojson, its base64 copy and the compaction were a large
// share of the node's CPU and allocations). It follows protojson's mapping: json_name keys in field
// order, zero values left out, map keys sorted, timestamps in RFC 3339 UTC with 0, 3, 6 or 9
// fraction digits. A string that is not valid UTF-8 or an invalid occurred_at is an error, as with
// protojson, and dst is returned as it was. value_test.go checks the bytes against protojson and
// fails when OutboxEvent gains a field.
func appendValue(dst []byte, ev *messages.OutboxEvent) ([]byte, error) {
	e := valueEncoder{buf: append(slices.Grow(dst, valueSize(ev)), '{')}
	// In declaration order, as protojson writes fields.
	e.string("eventId", "event_id", ev.GetEventId())
	e.string("aggregateType", "aggregate_type", ev.GetAggregateType())
	e.string("aggregateId", "aggregate_id", ev.GetAggregateId())
	e.int32("aggregateVersion", ev.GetAggregateVersion())
	e.string("eventType", "event_type", ev.GetEventType())
	e.bytes("payload", ev.GetPayload())
	e.headers("headers", ev.GetHeaders())
	e.timestamp("occurredAt", "occurred_at", ev.GetOccurredAt())
	if e.err != nil {
		return dst, e.err
	}
	return append(e.buf, '}'), nil
}

// valueSize is the value's length when no string needs escaping, so that the
// value usually takes one allocation of the right size.
func valueSize(ev *messages.OutboxEvent) int {
	n := valueOverhead + len(ev.GetEventId()) + len(ev.GetAggregateType()) + len(ev.GetAggregateId()) +
		len(ev.GetEventType()) + base64.StdEncoding.EncodedLen(len(ev.GetPayload()))
	for k, v := range ev.GetHeaders() {
		n += len(k) + len(v) + len(`"":"",`)
	}
	return n
}

// valueEncoder appends the fields of one value, each after a comma but the
// first, leaving out zero values as proto3 fields without presence are. The
// first error sticks and makes the later fields no-ops. name is a field's JSON
// name, a constant that needs no escaping; field its proto name, for errors.
type valueEncoder struct {
	buf    []byte
	fields int
	err    error
}

func (e *valueEncoder) name(name string) {
	if e.fields > 0 {
		e.buf = append(e.buf, ',')
	}
	e.fields++
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, '"', ':')
}

func (e *valueEncoder) string(name, field, s string) {
	if s == "" || e.err != nil {
		return
	}
	e.name(name)
	var err error
	if e.buf, err = appendString(e.buf, s); err != nil {
		e.err = fmt.Errorf("%s: %w", field, err)
	}
}

// int32 appends v as a JSON number; protojson quotes only 64-bit integers.
func (e *valueEncoder) int32(name string, v int32) {
	if v == 0 || e.err != nil {
		return
	}
	e.name(name)
	e.buf = strconv.AppendInt(e.buf, int64(v), 10)
}

// bytes appends b in standard base64 with padding.
func (e *valueEncoder) bytes(name string, b []byte) {
	if len(b) == 0 || e.err != nil {
		return
	}
	e.name(name)
	e.buf = append(base64.StdEncoding.AppendEncode(append(e.buf, '"'), b), '"')
}

// headers appends a string map with its keys sorted, as protojson orders
// string map keys.
func (e *valueEncoder) headers(name string, m map[string]string) {
	if len(m) == 0 || e.err != nil {
		return
	}
	var stack [8]string // events carry a few headers: sort them without allocating
	keys := slices.AppendSeq(stack[:0], maps.Keys(m))
	slices.Sort(keys)
	e.name(name)
	e.buf = append(e.buf, '{')
	for i, k := range keys {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		var err error
		if e.buf, err = appendString(e.buf, k); err != nil {
			e.err = fmt.Errorf("%s: key %q: %w", name, k, err)
			return
		}
		e.buf = append(e.buf, ':')
		if e.buf, err = appendString(e.buf, m[k]); err != nil {
			e.err = fmt.Errorf("%s[%q]: %w", name, k, err)
			return
		}
	}
	e.buf = append(e.buf, '}')
}

// timestamp appends ts unless it is nil: a message field has presence, so
// the zero timestamp is written. An invalid one is an error, as with protojson.
func (e *valueEncoder) timestamp(name, field string, ts *timestamppb.Timestamp) {
	if ts == nil || e.err != nil {
		return
	}
	if err := ts.CheckValid(); err != nil {
		e.err = fmt.Errorf("%s: %w", field, err)
		return
	}
	e.name(name)
	e.buf = appendTimestamp(e.buf, ts.AsTime())
}

// appendTimestamp appends t (UTC, years 1-9999) as protojson writes a
// google.protobuf.Timestamp: RFC 3339 with "Z" and the fewest of 0, 3, 6 or 9
// fraction digits that hold the nanoseconds.
func appendTimestamp(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05")
	switch ns := t.Nanosecond(); {
	case ns == 0:
	case ns%1e6 == 0:
		dst = appendFraction(dst, ns/1e6, 3)
	case ns%1e3 == 0:
		dst = appendFraction(dst, ns/1e3, 6)
	default:
		dst = appendFraction(dst, ns, 9)
	}
	return append(dst, 'Z', '"')
}

// appendFraction appends '.' and v zero-padded to digits digits.
func appendFraction(dst []byte, v, digits int) []byte {
	dst = append(dst, '.')
	start := len(dst)
	dst = append(dst, "000000000"[:digits]...)
	for i := len(dst) - 1; i >= start; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
	return dst
}

var errInvalidUTF8 = errors.New("invalid UTF-8")

// appendString appends s as a JSON string escaped exactly as protojson does:
// '"' and '\\' get a backslash, control characters their short escape or
// \u00xx, and nothing else is escaped (not <, >, & nor U+2028/U+2029). Invalid
// UTF-8 is an error, as protojson reports it for string fields.
func appendString(dst []byte, s string) ([]byte, error) {
	dst = append(dst, '"')
	start := 0 // s[start:i] is appended as is
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return nil, errInvalidUTF8
			}
			i += n
			continue
		}
		if c >= ' ' && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendEscape(dst, c)
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

// appendEscape appends the escape of c, a control character, '"' or '\\'.
func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	const hex = "0123456789abcdef"
	return append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
}
