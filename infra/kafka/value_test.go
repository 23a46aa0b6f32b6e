package kafka_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/messages"
)

// TestValueCoversEveryField fails when OutboxEvent's fields change: appendValue
// writes each field by hand, so a new field (or a changed name, type or
// presence) would silently be missing from, or wrong in, the record value.
func TestValueCoversEveryField(t *testing.T) {
	handled := []string{
		"event_id eventId string",
		"aggregate_type aggregateType string",
		"aggregate_id aggregateId string",
		"aggregate_version aggregateVersion int32",
		"event_type eventType string",
		"payload payload bytes",
		"headers headers map<string,string>",
		"occurred_at occurredAt google.protobuf.Timestamp presence",
	}
	fields := (&messages.OutboxEvent{}).ProtoReflect().Descriptor().Fields()
	var got []string
	for i := range fields.Len() {
		got = append(got, describeField(fields.Get(i)))
	}
	if strings.Join(got, "\n") != strings.Join(handled, "\n") {
		t.Fatalf("OutboxEvent fields changed; update appendValue and this list.\nfields:\n%s\nhandled:\n%s",
			strings.Join(got, "\n"), strings.Join(handled, "\n"))
	}
}

func describeField(fd protoreflect.FieldDescriptor) string {
	typ := func(fd protoreflect.FieldDescriptor) string {
		if fd.Message() != nil {
			return string(fd.Message().FullName())
		}
		return fd.Kind().String()
	}
	s := fmt.Sprintf("%s %s %s", fd.Name(), fd.JSONName(), typ(fd))
	switch {
	case fd.IsMap():
		s = fmt.Sprintf("%s %s map<%s,%s>", fd.Name(), fd.JSONName(), typ(fd.MapKey()), typ(fd.MapValue()))
	case fd.IsList():
		s += " repeated"
	case fd.HasPresence():
		s += " presence"
	}
	if fd.ContainingOneof() != nil {
		s += " oneof"
	}
	return s
}

// checkValue fails unless appendValue gives the bytes messages.JSON gives, or
// both fail; it also checks that appendValue keeps what dst holds.
func checkValue(t testing.TB, ev *messages.OutboxEvent) {
	t.Helper()
	want, wantErr := messages.JSON(protojson.MarshalOptions{}, ev)
	got, err := kafka.AppendValue([]byte("kept"), ev)
	switch {
	case (err != nil) != (wantErr != nil):
		t.Fatalf("appendValue err = %v, protojson err = %v for %v", err, wantErr, ev)
	case err != nil:
		if string(got) != "kept" {
			t.Fatalf("appendValue failed and returned %q, want dst as it was", got)
		}
	case !bytes.HasPrefix(got, []byte("kept")):
		t.Fatalf("appendValue overwrote dst: %q", got)
	case !bytes.Equal(got[len("kept"):], want):
		t.Fatalf("value differs from protojson\n got %s\nwant %s", got[len("kept"):], want)
	}
}

func TestValueMatchesProtojson(t *testing.T) {
	with := func(f func(*messages.OutboxEvent)) *messages.OutboxEvent {
		ev := benchEvent()
		f(ev)
		return ev
	}
	at := func(tm time.Time) *messages.OutboxEvent {
		return with(func(e *messages.OutboxEvent) { e.OccurredAt = timestamppb.New(tm) })
	}
	strs := func(s string) *messages.OutboxEvent {
		return with(func(e *messages.OutboxEvent) {
			e.EventId, e.AggregateType, e.AggregateId, e.EventType = s, s+"t", s+"i", s+"e"
			e.Headers = map[string]string{s: s, "k" + s: "v" + s}
		})
	}
	var control strings.Builder
	for c := range rune(0x20) {
		control.WriteRune(c)
	}
	control.WriteString("\x7f")
	rng := rand.New(rand.NewPCG(1, 2))
	large := make([]byte, 1<<20)
	for i := range large {
		large[i] = byte(rng.Uint32())
	}
	many := map[string]string{}
	for i := range 200 {
		many[fmt.Sprintf("h%03d\"\n", 199-i)] = strings.Repeat("v", i)
	}
	day := time.Date(2026, 11, 27, 2, 30, 0, 0, time.UTC)
	tests := map[string]*messages.OutboxEvent{
		"typical":             benchEvent(),
		"empty event":         {},
		"nil event":           nil,
		"zero timestamp":      {OccurredAt: &timestamppb.Timestamp{}},
		"only payload":        {Payload: []byte{0}},
		"zero version":        with(func(e *messages.OutboxEvent) { e.AggregateVersion = 0 }),
		"negative version":    with(func(e *messages.OutboxEvent) { e.AggregateVersion = -7 }),
		"max version":         with(func(e *messages.OutboxEvent) { e.AggregateVersion = math.MaxInt32 }),
		"min version":         with(func(e *messages.OutboxEvent) { e.AggregateVersion = math.MinInt32 }),
		"empty strings":       with(func(e *messages.OutboxEvent) { e.EventId, e.AggregateType, e.AggregateId, e.EventType = "", "", "", "" }),
		"unicode":             strs("ünïcödé 日本語 Ελληνικά"),
		"control characters":  strs(control.String()),
		"quotes, backslashes": strs(`"quoted" \back\slash\ /slash/ \"\\`),
		"emoji":               strs("😀👍🏽👨‍👩‍👧 🇪🇺"),
		"line separators":     strs("a\u2028b\u2029c\u0085d"),
		"html":                strs(`<script>alert("x")</script> &amp; <>&'`),
		"replacement char":    strs("\uFFFD ok \uFFFD"),
		"no payload":          with(func(e *messages.OutboxEvent) { e.Payload = nil }),
		"empty payload":       with(func(e *messages.OutboxEvent) { e.Payload = []byte{} }),
		"payload 1 byte":      with(func(e *messages.OutboxEvent) { e.Payload = []byte{0xff} }),
		"payload 2 bytes":     with(func(e *messages.OutboxEvent) { e.Payload = []byte{0xfb, 0xff} }),
		"payload 3 bytes":     with(func(e *messages.OutboxEvent) { e.Payload = []byte{0xfb, 0xef, 0xbe} }),
		"large payload":       with(func(e *messages.OutboxEvent) { e.Payload = large }),
		"nil headers":         with(func(e *messages.OutboxEvent) { e.Headers = nil }),
		"empty headers":       with(func(e *messages.OutboxEvent) { e.Headers = map[string]string{} }),
		"empty header":        with(func(e *messages.OutboxEvent) { e.Headers = map[string]string{"": ""} }),
		"many headers":        with(func(e *messages.OutboxEvent) { e.Headers = many }),
		"header order": with(func(e *messages.OutboxEvent) {
			e.Headers = map[string]string{"b": "1", "B": "2", "a": "3", "é": "4", "ab": "5", "a b": "6"}
		}),
		"no timestamp":    with(func(e *messages.OutboxEvent) { e.OccurredAt = nil }),
		"whole seconds":   at(day),
		"milliseconds":    at(day.Add(120 * time.Millisecond)),
		"one millisecond": at(day.Add(time.Millisecond)),
		"microseconds":    at(day.Add(123456 * time.Microsecond)),
		"one microsecond": at(day.Add(time.Microsecond)),
		"nanoseconds":     at(day.Add(123456789)),
		"one nanosecond":  at(day.Add(1)),
		"before 1970":     at(time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)),
		"far past":        at(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)),
		"far future":      at(time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)),
		"non-UTC zone":    at(time.Date(2026, 3, 29, 3, 30, 0, 5e6, time.FixedZone("CEST", 2*3600))),
	}
	for name, ev := range tests {
		t.Run(name, func(t *testing.T) { checkValue(t, ev) })
	}
}

func TestValueRejectsWhatProtojsonRejects(t *testing.T) {
	tests := map[string]func(*messages.OutboxEvent){
		"event_id":          func(e *messages.OutboxEvent) { e.EventId = "a\xffb" },
		"aggregate_type":    func(e *messages.OutboxEvent) { e.AggregateType = "\xc3" },
		"aggregate_id":      func(e *messages.OutboxEvent) { e.AggregateId = "\xed\xa0\x80" },   // a surrogate
		"event_type":        func(e *messages.OutboxEvent) { e.EventType = "\xf4\x90\x80\x80" }, // above U+10FFFF
		"header key":        func(e *messages.OutboxEvent) { e.Headers = map[string]string{"k\xc0\xaf": "v"} },
		"header value":      func(e *messages.OutboxEvent) { e.Headers = map[string]string{"k": "overlong \xc0\xaf"} },
		"seconds too small": func(e *messages.OutboxEvent) { e.OccurredAt = &timestamppb.Timestamp{Seconds: -62135596801} },
		"seconds too large": func(e *messages.OutboxEvent) { e.OccurredAt = &timestamppb.Timestamp{Seconds: 253402300800} },
		"negative nanos":    func(e *messages.OutboxEvent) { e.OccurredAt = &timestamppb.Timestamp{Nanos: -1} },
		"nanos of a second": func(e *messages.OutboxEvent) { e.OccurredAt = &timestamppb.Timestamp{Nanos: 1e9} },
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			ev := benchEvent()
			f(ev)
			if _, err := messages.JSON(protojson.MarshalOptions{}, ev); err == nil {
				t.Fatal("protojson accepted the event")
			}
			if _, err := kafka.AppendValue(nil, ev); err == nil {
				t.Fatal("appendValue accepted the event")
			}
		})
	}
}

// FuzzRecordValue checks appendValue against protojson for arbitrary strings,
// payloads, headers and timestamps.
func FuzzRecordValue(f *testing.F) {
	ev := benchEvent()
	ts := ev.OccurredAt
	f.Add(ev.EventId, ev.AggregateType, ev.AggregateId, ev.AggregateVersion, ev.EventType, ev.Payload,
		"content_type", "application/json", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		ts.Seconds, ts.Nanos, true)
	f.Add("", "", "", int32(0), "", []byte(nil), "", "", "", "", int64(0), int32(0), false)
	f.Add("\x00\x1f\"\\", "<>&", "\u2028\u2029", int32(-1), "😀", []byte{0, 1, 2}, "a\nb", "\t", "é", "\x7f", int64(-62135596800), int32(0), true)
	f.Add("\xff", "ok", "ok", int32(1), "ok", []byte("x"), "k", "\xc3", "", "", int64(253402300799), int32(999999999), true)
	f.Add("id", "order", "agg", int32(math.MaxInt32), "T", []byte("{}"), "b", "1", "a", "2", int64(1e9), int32(1e6), true)
	f.Fuzz(func(t *testing.T, id, aggType, aggID string, version int32, eventType string, payload []byte,
		k1, v1, k2, v2 string, seconds int64, nanos int32, hasTime bool) {
		ev := &messages.OutboxEvent{
			EventId: id, AggregateType: aggType, AggregateId: aggID, AggregateVersion: version,
			EventType: eventType, Payload: payload, Headers: map[string]string{k1: v1, k2: v2},
		}
		if hasTime {
			ev.OccurredAt = &timestamppb.Timestamp{Seconds: seconds, Nanos: nanos}
		}
		checkValue(t, ev)
	})
}

// BenchmarkRecordValue compares the record value encodings: protojson and
// compaction as before, appendValue into a new buffer as Record calls it,
// and appendValue into a reused buffer.
func BenchmarkRecordValue(b *testing.B) {
	ev := benchEvent()
	b.Run("protojson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := messages.JSON(protojson.MarshalOptions{}, ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := kafka.AppendValue(nil, ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append-reused", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = kafka.AppendValue(buf[:0], ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
