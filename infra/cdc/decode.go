package cdc

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/messages"
)

// Row is one CDC log row as scylla-cdc-go presents it (*scyllacdc.ChangeRow):
// scalars as pointers (nil for null), blobs as []byte, maps as Go maps.
type Row interface {
	GetValue(column string) (any, bool)
}

// DecodeError reports an outbox row that cannot become an event: a missing,
// null or mistyped column, or a payload that is not JSON. Such a row is
// dead-lettered, never retried.
type DecodeError struct {
	Column string
	Reason string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("outbox row column %s: %s", e.Column, e.Reason)
}

// IsEvent reports whether a CDC log row of this operation may announce an
// outbox event: only delta rows of inserts and updates do; pre-/post-images
// and deletions (including TTL-driven cleanup) never do. A reader of shard
// tables needs IsEventRow, which also looks at the row.
func IsEvent(op scyllacdc.OperationType) bool {
	return op == scyllacdc.Insert || op == scyllacdc.Update
}

// DeltaRow is a CDC log row with its operation (*scyllacdc.ChangeRow).
type DeltaRow interface {
	Row
	GetOperation() scyllacdc.OperationType
}

// IsEventRow reports whether a CDC log row announces an outbox event, of
// outbox_messages or of an outbox shard table: an insert or update (IsEvent)
// of an event row. The commit batch of a shard table also writes the order's
// static columns, which ScyllaDB logs as a delta row of its own with a null
// clustering key (event_id); that row carries no event, so it is skipped
// rather than decoded into a dead letter.
func IsEventRow(row DeltaRow) bool {
	if !IsEvent(row.GetOperation()) {
		return false
	}
	id, ok := row.GetValue("event_id")
	if !ok {
		return false
	}
	// A mistyped event_id is an event that Decode dead-letters, not a skip.
	u, ok := id.(*gocql.UUID)
	return !ok || u != nil
}

// Decode turns one outbox delta row into the request the publisher takes.
// A row that does not decode still yields a request: its event holds what
// could be read (the key columns at least) and DecodeError is set, so the
// publisher dead-letters it instead of the reader stopping.
func Decode(row Row) *messages.PublishEvent {
	d := decoder{row: row, ev: &messages.OutboxEvent{}}
	d.ev.EventId = d.timeUUID("event_id")
	d.ev.AggregateId = d.uuid("aggregate_id")
	d.ev.AggregateType = d.text("aggregate_type")
	d.ev.EventType = d.text("event_type")
	d.ev.AggregateVersion = d.version("aggregate_version")
	d.ev.Payload = d.payload("payload")
	d.ev.Headers = d.headers("headers")
	if at := d.timestamp("created_at"); !at.IsZero() {
		d.ev.OccurredAt = timestamppb.New(at)
	}
	req := &messages.PublishEvent{Event: d.ev}
	if d.err != nil {
		req.DecodeError = d.err.Error()
	}
	return req
}

// decoder reads columns, keeping the first error and the values it could read.
type decoder struct {
	row Row
	ev  *messages.OutboxEvent
	err *DecodeError
}

func (d *decoder) fail(column, format string, args ...any) {
	if d.err == nil {
		d.err = &DecodeError{Column: column, Reason: fmt.Sprintf(format, args...)}
	}
}

// value returns the non-null value of column, or nil after recording why not.
func (d *decoder) value(column string) any {
	v, ok := d.row.GetValue(column)
	if !ok {
		d.fail(column, "missing from the CDC log")
		return nil
	}
	return v
}

func (d *decoder) uuid(column string) string {
	switch v := d.value(column).(type) {
	case *gocql.UUID:
		if v != nil {
			return v.String()
		}
		d.fail(column, "null")
	case nil:
	default:
		d.fail(column, "unexpected type %T", v)
	}
	return ""
}

func (d *decoder) timeUUID(column string) string {
	id := d.uuid(column)
	if u, err := gocql.ParseUUID(id); err == nil && u.Version() != 1 {
		d.fail(column, "%s is not a time UUID", id)
	}
	return id
}

func (d *decoder) text(column string) string {
	switch v := d.value(column).(type) {
	case *string:
		if v != nil && *v != "" {
			return *v
		}
		d.fail(column, "null or empty")
	case nil:
	default:
		d.fail(column, "unexpected type %T", v)
	}
	return ""
}

func (d *decoder) version(column string) int32 {
	switch v := d.value(column).(type) {
	case *int:
		if v != nil && *v >= 1 && *v <= 1<<31-1 {
			return int32(*v)
		}
		if v == nil {
			d.fail(column, "null")
		} else {
			d.fail(column, "%d is not a version (1 or more)", *v)
		}
	case nil:
	default:
		d.fail(column, "unexpected type %T", v)
	}
	return 0
}

func (d *decoder) payload(column string) []byte {
	switch v := d.value(column).(type) {
	case []byte:
		if !json.Valid(v) {
			d.fail(column, "not a JSON document (%d bytes)", len(v))
		}
		return v
	case nil:
	default:
		d.fail(column, "unexpected type %T", v)
	}
	return nil
}

// headers are optional: a missing or null map is no headers.
func (d *decoder) headers(column string) map[string]string {
	v, ok := d.row.GetValue(column)
	if !ok || v == nil {
		return nil
	}
	h, ok := v.(map[string]string)
	if !ok {
		d.fail(column, "unexpected type %T", v)
		return nil
	}
	if len(h) == 0 {
		return nil
	}
	return h
}

func (d *decoder) timestamp(column string) time.Time {
	switch v := d.value(column).(type) {
	case *time.Time:
		if v != nil && !v.IsZero() {
			return *v
		}
		d.fail(column, "null")
	case nil:
	default:
		d.fail(column, "unexpected type %T", v)
	}
	return time.Time{}
}
