package cdc

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"
)

// fakeRow is a CDC log row as scylla-cdc-go presents it.
type fakeRow map[string]any

func (r fakeRow) GetValue(c string) (any, bool) { v, ok := r[c]; return v, ok }

func ptr[T any](v T) *T { return &v }

func goodRow() fakeRow {
	return fakeRow{
		"event_id":          ptr(gocql.TimeUUID()),
		"aggregate_id":      ptr(gocql.MustRandomUUID()),
		"aggregate_type":    ptr("order"),
		"event_type":        ptr("OrderCreated"),
		"aggregate_version": ptr(3),
		"payload":           []byte(`{"order_id":"x"}`),
		"headers":           map[string]string{"content_type": "application/json"},
		"created_at":        ptr(time.UnixMilli(1_700_000_000_123).UTC()),
	}
}

func TestDecodeGoodRow(t *testing.T) {
	row := goodRow()
	req := Decode(row)
	if req.GetDecodeError() != "" {
		t.Fatalf("decode error %q", req.GetDecodeError())
	}
	ev := req.GetEvent()
	if ev.GetEventId() != row["event_id"].(*gocql.UUID).String() || ev.GetAggregateId() != row["aggregate_id"].(*gocql.UUID).String() {
		t.Errorf("ids %s %s", ev.GetEventId(), ev.GetAggregateId())
	}
	if ev.GetAggregateType() != "order" || ev.GetEventType() != "OrderCreated" || ev.GetAggregateVersion() != 3 {
		t.Errorf("fields %v", ev)
	}
	if string(ev.GetPayload()) != `{"order_id":"x"}` || ev.GetHeaders()["content_type"] != "application/json" {
		t.Errorf("payload/headers %v", ev)
	}
	if !ev.GetOccurredAt().AsTime().Equal(time.UnixMilli(1_700_000_000_123)) {
		t.Errorf("occurred_at %v", ev.GetOccurredAt().AsTime())
	}
}

func TestDecodeOptionalHeaders(t *testing.T) {
	for name, v := range map[string]any{"null": map[string]string(nil), "missing": nil} {
		row := goodRow()
		if v == nil {
			delete(row, "headers")
		} else {
			row["headers"] = v
		}
		if req := Decode(row); req.GetDecodeError() != "" || req.GetEvent().GetHeaders() != nil {
			t.Errorf("%s headers: %v", name, req)
		}
	}
}

func TestDecodeBadRows(t *testing.T) {
	cases := []struct {
		name, column string
		edit         func(fakeRow)
	}{
		{"missing event type", "event_type", func(r fakeRow) { delete(r, "event_type") }},
		{"null event type", "event_type", func(r fakeRow) { r["event_type"] = (*string)(nil) }},
		{"empty aggregate type", "aggregate_type", func(r fakeRow) { r["aggregate_type"] = ptr("") }},
		{"random event id", "event_id", func(r fakeRow) { r["event_id"] = ptr(gocql.MustRandomUUID()) }},
		{"null aggregate id", "aggregate_id", func(r fakeRow) { r["aggregate_id"] = (*gocql.UUID)(nil) }},
		{"zero version", "aggregate_version", func(r fakeRow) { r["aggregate_version"] = ptr(0) }},
		{"null version", "aggregate_version", func(r fakeRow) { r["aggregate_version"] = (*int)(nil) }},
		{"payload not json", "payload", func(r fakeRow) { r["payload"] = []byte{0xff, 0x00} }},
		{"null payload", "payload", func(r fakeRow) { r["payload"] = []byte(nil) }},
		{"wrong type", "event_type", func(r fakeRow) { r["event_type"] = ptr(7) }},
		{"headers wrong type", "headers", func(r fakeRow) { r["headers"] = map[string]int{"a": 1} }},
		{"null created_at", "created_at", func(r fakeRow) { r["created_at"] = (*time.Time)(nil) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			row := goodRow()
			tc.edit(row)
			req := Decode(row)
			if !strings.Contains(req.GetDecodeError(), "column "+tc.column+":") {
				t.Fatalf("decode error %q, want one about %s", req.GetDecodeError(), tc.column)
			}
			if req.GetEvent().GetAggregateId() == "" && tc.column != "aggregate_id" {
				t.Errorf("key column lost: %v", req.GetEvent())
			}
		})
	}
}

func TestDecodeErrorIsTyped(t *testing.T) {
	d := decoder{row: fakeRow{}}
	d.text("event_type")
	var de *DecodeError
	if !errors.As(error(d.err), &de) || de.Column != "event_type" {
		t.Fatalf("err %v", d.err)
	}
}

func TestIsEventOnlyInsertAndUpdateDeltas(t *testing.T) {
	want := map[scyllacdc.OperationType]bool{scyllacdc.Insert: true, scyllacdc.Update: true}
	for op := scyllacdc.PreImage; op <= scyllacdc.PostImage; op++ {
		if IsEvent(op) != want[op] {
			t.Errorf("IsEvent(%s) = %v", op, IsEvent(op))
		}
	}
}

// deltaRow is a fakeRow with its CDC operation.
type deltaRow struct {
	fakeRow
	op scyllacdc.OperationType
}

func (r deltaRow) GetOperation() scyllacdc.OperationType { return r.op }

// A shard table's commit logs the order's static columns as a delta row
// with a null event_id: not an event, while event rows of both kinds of
// tables are, malformed ones included (they are dead-lettered by Decode).
func TestIsEventRowSkipsStaticRows(t *testing.T) {
	static := goodRow()
	static["event_id"] = (*gocql.UUID)(nil)
	for _, k := range []string{"aggregate_type", "event_type", "payload", "headers", "created_at"} {
		delete(static, k)
	}
	static["order_version"] = ptr(2)
	noKey := goodRow()
	delete(noKey, "event_id")
	mistyped := goodRow()
	mistyped["event_id"] = ptr("not a uuid")
	for name, tc := range map[string]struct {
		row  deltaRow
		want bool
	}{
		"event insert":             {deltaRow{goodRow(), scyllacdc.Insert}, true},
		"event update":             {deltaRow{goodRow(), scyllacdc.Update}, true},
		"event post-image":         {deltaRow{goodRow(), scyllacdc.PostImage}, false},
		"event row delete":         {deltaRow{goodRow(), scyllacdc.RowDelete}, false},
		"static update":            {deltaRow{static, scyllacdc.Update}, false},
		"static insert":            {deltaRow{static, scyllacdc.Insert}, false},
		"no event_id column":       {deltaRow{noKey, scyllacdc.Insert}, false},
		"mistyped event_id (dead)": {deltaRow{mistyped, scyllacdc.Insert}, true},
	} {
		if got := IsEventRow(tc.row); got != tc.want {
			t.Errorf("%s: IsEventRow = %v, want %v", name, got, tc.want)
		}
	}
	if req := Decode(deltaRow{mistyped, scyllacdc.Insert}); req.GetDecodeError() == "" {
		t.Error("a mistyped event_id decoded without error")
	}
}
