package tracing

import (
	"context"
	"errors"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestParseAndFormat(t *testing.T) {
	sc, err := Parse(valid)
	if err != nil {
		t.Fatal(err)
	}
	if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID().String() != "00f067aa0ba902b7" || !sc.IsSampled() || !sc.IsRemote() {
		t.Fatalf("parsed %+v", sc)
	}
	if got := Format(sc); got != valid {
		t.Fatalf("Format = %q, want %q", got, valid)
	}
	if sc, err := Parse(""); err != nil || sc.IsValid() {
		t.Fatalf("empty: %v %v, want no trace and no error", sc, err)
	}
	if got := Format(trace.SpanContext{}); got != "" {
		t.Fatalf("Format(invalid) = %q", got)
	}
}

func TestParseRefusesMalformed(t *testing.T) {
	for _, bad := range []string{
		"garbage",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero span id
		"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  // short trace id
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // upper case
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // forbidden version
		valid + strings.Repeat("-x", 200),                         // too long
	} {
		if _, err := Parse(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestNewRoot(t *testing.T) {
	a, b := NewRoot(), NewRoot()
	if !a.IsValid() || !a.IsSampled() || a.TraceID() == b.TraceID() {
		t.Fatalf("roots %v %v: want valid, sampled, distinct", a, b)
	}
	if back, err := Parse(Format(a)); err != nil || back.TraceID() != a.TraceID() {
		t.Fatalf("round trip of %v: %v %v", a, back, err)
	}
}

func TestFromHeaders(t *testing.T) {
	sc := trace.SpanContextFromContext(FromHeaders(context.Background(), map[string]string{Header: valid, "content_type": "x"}))
	if Format(sc) != valid || !sc.IsRemote() {
		t.Fatalf("from headers: %v", sc)
	}
	for _, h := range []map[string]string{nil, {Header: "broken"}} {
		if sc := trace.SpanContextFromContext(FromHeaders(context.Background(), h)); sc.IsValid() {
			t.Errorf("headers %v gave %v, want no parent", h, sc)
		}
	}
}

// Without an SDK the traceparent still travels: the caller's as is, or a fresh one.
func TestStartWithoutSDK(t *testing.T) {
	tr := noop.NewTracerProvider().Tracer("t")
	parent, _ := Parse(valid)
	_, span, tp := Start(context.Background(), tr, "command X", parent)
	span.End()
	if tp != valid {
		t.Fatalf("joined trace carries %q, want %q", tp, valid)
	}
	_, _, fresh := Start(context.Background(), tr, "command X", trace.SpanContext{})
	sc, err := Parse(fresh)
	if err != nil || sc.TraceID() == parent.TraceID() {
		t.Fatalf("started trace %q (%v): want a fresh valid one", fresh, err)
	}
}

// With an SDK the span is the caller's child, and the traceparent names the span.
func TestStartWithSDK(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("t")
	parent, _ := Parse(valid)
	ctx, span, tp := Start(context.Background(), tr, "command X", parent)
	_, child := tr.Start(ctx, "scylla batch")
	child.End()
	span.End()
	got, _ := Parse(tp)
	if got.TraceID() != parent.TraceID() || got.SpanID() != span.SpanContext().SpanID() {
		t.Fatalf("traceparent %q, want trace %s and span %s", tp, parent.TraceID(), span.SpanContext().SpanID())
	}
	ended := rec.Ended()
	if len(ended) != 2 || ended[1].Parent().SpanID() != parent.SpanID() || ended[0].Parent().SpanID() != span.SpanContext().SpanID() {
		t.Fatalf("spans %v: want command child of the caller, batch child of the command", ended)
	}
	_, root, rootTP := Start(context.Background(), tr, "command Y", trace.SpanContext{})
	root.End()
	if sc, _ := Parse(rootTP); sc.SpanID() != root.SpanContext().SpanID() || rec.Ended()[2].Parent().IsValid() {
		t.Fatalf("node-started trace %q: want the root span's context", rootTP)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, ok := range []Config{{SampleRatio: DefaultSampleRatio}, {Endpoint: "http://localhost:4318", SampleRatio: 0.1}, {Endpoint: "https://otel.example:4318/custom/traces"}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	for _, bad := range []Config{
		{SampleRatio: 1.5}, {SampleRatio: -0.1},
		{Endpoint: "localhost:4318"}, {Endpoint: "grpc://localhost:4317"}, {Endpoint: "http://"},
		{Endpoint: "http://user:secret@localhost:4318"}, {Endpoint: "http://localhost:4318?x=1"},
	} {
		err := bad.Validate()
		if err == nil {
			t.Errorf("%+v: no error", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%+v: error %q shows the password", bad, err)
		}
	}
	if _, err := Setup(Config{Endpoint: "ftp://x"}, "test", nil); err == nil {
		t.Error("Setup accepted a bad endpoint")
	}
}

func TestSetupOffIsNoop(t *testing.T) {
	p, err := Setup(Config{}, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, span := Tracer("t").Start(context.Background(), "x"); span.IsRecording() {
		t.Fatal("a span records with tracing off")
	}
}

// BenchmarkStartOff is the per-command cost of tracing while it is off:
// the no-op span plus the traceparent for a joined trace.
func BenchmarkStartOff(b *testing.B) {
	tr := Tracer("bench")
	parent, _ := Parse(valid)
	b.ReportAllocs()
	for b.Loop() {
		_, span, _ := Start(context.Background(), tr, "command X", parent)
		span.End()
	}
}

// BenchmarkRelayOff is the per-event cost on the relay while tracing is off.
func BenchmarkRelayOff(b *testing.B) {
	tr := Tracer("bench")
	headers := map[string]string{Header: valid, "content_type": "application/json"}
	b.ReportAllocs()
	for b.Loop() {
		span := StartFromHeaders(context.Background(), tr, "cdc read", trace.SpanKindConsumer, headers)
		span.End()
	}
}

// The relay's spans are no-ops until an exporter is set up, then children
// of the event's trace context.
func TestStartFromHeaders(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("t")
	headers := map[string]string{Header: valid}
	if span := StartFromHeaders(context.Background(), tr, "cdc read", trace.SpanKindConsumer, headers); span.IsRecording() {
		t.Fatal("a relay span records with tracing off")
	}
	on.Store(true)
	t.Cleanup(func() { on.Store(false) })
	StartFromHeaders(context.Background(), tr, "kafka publish", trace.SpanKindProducer, headers).End()
	ended := rec.Ended()
	if len(ended) != 1 || Format(ended[0].Parent()) != valid || ended[0].SpanKind() != trace.SpanKindProducer {
		t.Fatalf("spans %v: want one producer span, child of %s", ended, valid)
	}
}
