package e2e

import (
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// A caller's trace context, as a traced script would pass it in TRACEPARENT.
const (
	callerTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpanID  = "00f067aa0ba902b7"
	callerParent  = "00-" + callerTraceID + "-" + callerSpanID + "-01"
)

// accepted is outboxctl's -o json answer to an order command.
type accepted struct {
	OrderID     string `json:"orderId"`
	EventID     string `json:"eventId"`
	Traceparent string `json:"traceparent"`
}

// traceParts splits a version-00 traceparent into trace id and parent (span) id.
func traceParts(t *testing.T, traceparent string) (traceID, spanID string) {
	t.Helper()
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 {
		t.Fatalf("traceparent %q is not 00-<32 hex>-<16 hex>-<flags>", traceparent)
	}
	return parts[1], parts[2]
}

// TestTraceparentReachesKafka: the trace context of an order command travels
// into its Kafka record's traceparent header, without any exporter: given by
// the caller (flag or TRACEPARENT), or started by the node and returned in
// the reply. A malformed one is refused by outboxctl and by the node.
func TestTraceparentReachesKafka(t *testing.T) {
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)

	given := decodeJSON[accepted](t, mustAccept(t, node, "-o", "json", "order", "create",
		"--customer", "tracy", "--amount", "3.00", "--traceparent", callerParent))
	if given.Traceparent != callerParent {
		t.Errorf("reply traceparent %q, want the caller's %q (no exporter: the node joins it as is)", given.Traceparent, callerParent)
	}
	r := awaitRecord(t, node.Kafka, node.Topic("OrderCreated"), given.OrderID)
	if got, _ := traceParts(t, r.headers["traceparent"]); got != callerTraceID {
		t.Errorf("record traceparent %q, want trace id %s", r.headers["traceparent"], callerTraceID)
	}
	if r.headers["event_id"] != given.EventID {
		t.Errorf("record event_id %q, want %q", r.headers["event_id"], given.EventID)
	}

	// No trace given: the node starts one and says which.
	started := decodeJSON[accepted](t, mustAccept(t, node, "-o", "json", "order", "update", given.OrderID, "--amount", "4.00"))
	startedID, _ := traceParts(t, started.Traceparent)
	if startedID == callerTraceID || strings.Trim(startedID, "0") == "" {
		t.Errorf("node-started trace id %s: want a fresh non-zero one", startedID)
	}
	r = awaitRecord(t, node.Kafka, node.Topic("OrderUpdated"), given.OrderID)
	if r.headers["traceparent"] != started.Traceparent {
		t.Errorf("record traceparent %q, want the reply's %q", r.headers["traceparent"], started.Traceparent)
	}

	// Malformed: outboxctl refuses it as usage before sending; the node refuses it typed.
	bad := "00-" + callerTraceID + "-0000000000000000-01"
	if res := node.Ctl(t, "order", "cancel", given.OrderID, "--traceparent", bad); res.Code != 2 || !strings.Contains(res.Stderr, "traceparent") {
		t.Errorf("outboxctl with traceparent %q: exit %d stderr %q, want exit 2 naming traceparent", bad, res.Code, res.Stderr)
	}
	_, err := harness.Command(node.Remote, &messages.CancelOrder{OrderId: given.OrderID, Traceparent: bad}, 30*time.Second)
	var rej *harness.RejectedError
	if !errors.As(err, &rej) || rej.Code != messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT || !strings.Contains(rej.Reason, "traceparent") {
		t.Errorf("CancelOrder with traceparent %q: %v, want INVALID_ARGUMENT naming traceparent", bad, err)
	}
	if v, ok := loadOrder(t, openStore(t, node), mustUUID(t, given.OrderID)); !ok || v.Status != "UPDATED" {
		t.Errorf("order after refused cancels: %+v (found %v), want UPDATED", v, ok)
	}
}

// TestTracingSpansReachOTLP: with --otel-endpoint the node exports, for one
// outboxctl order create, the spans command CreateOrder (child of the
// caller's span), scylla batch (child of the command) and cdc read and kafka
// publish (children of the command, through the event's traceparent), all
// in the caller's trace; the record's traceparent names the command span.
// The exporter's batch delay is ten minutes here, so the spans can only
// arrive through the flush of the graceful stop.
func TestTracingSpansReachOTLP(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")
	bins := harness.Build(t)
	recv := newOTLPReceiver(t)
	node := harness.StartNode(t, bins, "--otel-endpoint", recv.url)

	a := decodeJSON[accepted](t, mustAccept(t, node, "-o", "json", "order", "create",
		"--customer", "otto", "--amount", "5.00", "--traceparent", callerParent))
	r := awaitRecord(t, node.Kafka, node.Topic("OrderCreated"), a.OrderID)
	recordTrace, recordParent := traceParts(t, r.headers["traceparent"])
	if recordTrace != callerTraceID || r.headers["traceparent"] != a.Traceparent {
		t.Fatalf("record traceparent %q, reply %q: want trace %s in both", r.headers["traceparent"], a.Traceparent, callerTraceID)
	}
	// A node-started trace: the command span is its root.
	started := decodeJSON[accepted](t, mustAccept(t, node, "-o", "json", "order", "cancel", a.OrderID))
	startedID, _ := traceParts(t, started.Traceparent)
	awaitRecord(t, node.Kafka, node.Topic("OrderCancelled"), a.OrderID)
	if n := recv.count(); n != 0 {
		t.Fatalf("%d spans exported before the stop, want 0 with a ten-minute batch delay", n)
	}
	if code := node.Stop(t); code != 0 {
		t.Fatalf("node exit %d; log:\n%s", code, tail(node.Log(), 30))
	}

	want := []string{"command CreateOrder", "scylla batch", "cdc read", "kafka publish"}
	spans := recv.byName(callerTraceID)
	for _, name := range want {
		if spans[name] == nil {
			t.Fatalf("no %q span in trace %s after the stop (have %v)", name, callerTraceID, keys(spans))
		}
	}
	command := spans["command CreateOrder"]
	commandID := hex.EncodeToString(command.GetSpanId())
	if got := hex.EncodeToString(command.GetParentSpanId()); got != callerSpanID {
		t.Errorf("command span parent %s, want the caller's span %s", got, callerSpanID)
	}
	if commandID != recordParent {
		t.Errorf("record traceparent parent id %s, want the command span %s", recordParent, commandID)
	}
	for _, name := range want[1:] {
		if got := hex.EncodeToString(spans[name].GetParentSpanId()); got != commandID {
			t.Errorf("%s span parent %s, want the command span %s", name, got, commandID)
		}
	}
	if spans["kafka publish"].GetKind() != tracepb.Span_SPAN_KIND_PRODUCER || spans["cdc read"].GetKind() != tracepb.Span_SPAN_KIND_CONSUMER {
		t.Errorf("kinds: publish %v, cdc read %v", spans["kafka publish"].GetKind(), spans["cdc read"].GetKind())
	}
	cancel := recv.byName(startedID)["command CancelOrder"]
	if cancel == nil || len(cancel.GetParentSpanId()) != 0 {
		t.Errorf("node-started trace %s: command CancelOrder span %v, want one without parent", startedID, cancel)
	}
}

// otlpReceiver is an OTLP/HTTP trace collector (protobuf encoding) that keeps every span.
type otlpReceiver struct {
	url   string
	mu    sync.Mutex
	spans []*tracepb.Span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	recv := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost {
			http.Error(w, "want POST /v1/traces", http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		recv.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				recv.spans = append(recv.spans, ss.GetSpans()...)
			}
		}
		recv.mu.Unlock()
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	recv.url = srv.URL
	return recv
}

// count is the number of spans received so far.
func (r *otlpReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.spans)
}

// byName returns the spans of one trace (hex id) by name, the last of each name.
func (r *otlpReceiver) byName(traceID string) map[string]*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]*tracepb.Span{}
	for _, s := range r.spans {
		if hex.EncodeToString(s.GetTraceId()) == traceID {
			out[s.GetName()] = s
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
