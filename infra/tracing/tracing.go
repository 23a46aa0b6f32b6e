// Package tracing carries a W3C trace context along the data path: from the
// command (outboxctl sends a traceparent, or the node starts a trace) into the
// outbox event's headers and from there into the Kafka record's headers. The
// orders actor, the CDC reader and the publisher open OpenTelemetry spans as
// children of that context. The spans go to an OTLP/HTTP collector when an
// endpoint is configured; without one the global tracer provider stays the
// no-op one, so spans cost nothing, and the traceparent still travels.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Header is the name of the W3C trace context header in outbox events and
// Kafka records.
const Header = "traceparent"

// maxLength bounds a traceparent: version 00 is 55 characters, later
// versions may append fields, and the value ends up in every record.
const maxLength = 256

// ErrInvalid marks a traceparent that is not a valid W3C trace context.
var ErrInvalid = errors.New("invalid traceparent")

// propagator reads and writes the traceparent header only.
var propagator = propagation.TraceContext{}

// Parse returns the span context of a traceparent value. An empty value is
// no trace (an invalid span context, nil error); anything else that is not
// a valid W3C traceparent is ErrInvalid.
func Parse(traceparent string) (trace.SpanContext, error) {
	if traceparent == "" {
		return trace.SpanContext{}, nil
	}
	if len(traceparent) > maxLength {
		return trace.SpanContext{}, fmt.Errorf("%w: %d characters, at most %d", ErrInvalid, len(traceparent), maxLength)
	}
	sc := trace.SpanContextFromContext(propagator.Extract(context.Background(), propagation.MapCarrier{Header: traceparent}))
	if !sc.IsValid() {
		return trace.SpanContext{}, fmt.Errorf("%w: %q: want 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>, ids not all zero", ErrInvalid, traceparent)
	}
	return sc, nil
}

// Format renders sc as a version-00 traceparent value (only the sampled
// flag is defined there), "" when sc is invalid. Parse(Format(sc)) is sc.
func Format(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + (sc.TraceFlags() & trace.FlagsSampled).String()
}

// NewRoot returns a fresh sampled span context with random ids, for a trace
// the node starts while no SDK generates ids (the no-op provider's spans
// have none). math/rand/v2 is seeded per process from the OS; trace ids
// need to be unique, not secret.
func NewRoot() trace.SpanContext {
	var tid trace.TraceID
	var sid trace.SpanID
	for !tid.IsValid() {
		putUint64(tid[:8], rand.Uint64())
		putUint64(tid[8:], rand.Uint64())
	}
	for !sid.IsValid() {
		putUint64(sid[:], rand.Uint64())
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// FromHeaders returns ctx with the remote span context of the outbox event
// headers' traceparent as parent; a missing or invalid one leaves ctx as is,
// so an event written before tracing existed is still published.
func FromHeaders(ctx context.Context, headers map[string]string) context.Context {
	return propagator.Extract(ctx, propagation.MapCarrier(headers))
}

// on is set once Setup installs an exporting provider; until then the relay
// skips even reading the parent from the headers.
var on atomic.Bool

// On says whether spans are exported (Setup installed an exporter).
func On() bool { return on.Load() }

// StartFromHeaders opens span name of kind as a child of the trace context
// in an outbox event's headers, for the relay's per-event spans. While no
// exporter is set up it returns a no-op span at once: the relay pays
// nothing per event for tracing that is off.
func StartFromHeaders(ctx context.Context, tr trace.Tracer, name string, kind trace.SpanKind, headers map[string]string) trace.Span {
	if !On() {
		return noop.Span{}
	}
	_, span := tr.Start(FromHeaders(ctx, headers), name, trace.WithSpanKind(kind))
	return span
}

// Start opens span name as a child of parent (a remote span context; invalid
// means a new trace) and returns the traceparent the work carries on: the
// span's own context; when the tracer records nothing (the no-op provider)
// the parent's, or a fresh trace when there is no parent either.
func Start(ctx context.Context, tr trace.Tracer, name string, parent trace.SpanContext, opts ...trace.SpanStartOption) (context.Context, trace.Span, string) {
	if parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
	}
	ctx, span := tr.Start(ctx, name, opts...)
	sc := span.SpanContext()
	if !sc.IsValid() {
		sc = NewRoot()
	}
	return ctx, span, Format(sc)
}
