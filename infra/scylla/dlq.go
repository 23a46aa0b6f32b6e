package scylla

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"
	"github.com/scylladb/gocqlx/v2/table"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/actors/dlq"
	"github.com/outboxnode/outbox/messages"
)

// DeadLetterRow is one row of the dead_letter_queue table. An undecodable
// row may lack its aggregate id: it is stored as the zero UUID.
type DeadLetterRow struct {
	EventID          gocql.UUID        `db:"event_id"`
	AggregateID      gocql.UUID        `db:"aggregate_id"`
	AggregateType    string            `db:"aggregate_type"`
	AggregateVersion int32             `db:"aggregate_version"`
	EventType        string            `db:"event_type"`
	Payload          []byte            `db:"payload"`
	Headers          map[string]string `db:"headers"`
	OccurredAt       time.Time         `db:"occurred_at"`
	Topic            string            `db:"topic"`
	Error            string            `db:"error"`
	Attempts         int32             `db:"attempts"`
	FirstFailedAt    time.Time         `db:"first_failed_at"`
	LastFailedAt     time.Time         `db:"last_failed_at"`
	State            string            `db:"state"`
}

// DLQStore keeps dead letters in dead_letter_queue, one row per event id,
// never deleted (dlq.Store). It is safe for concurrent use and does not own
// the session.
type DLQStore struct {
	session gocqlx.Session
	table   *table.Table
}

var _ dlq.Store = (*DLQStore)(nil)

// DeadLetterTable describes dead_letter_queue of keyspace.
func DeadLetterTable(keyspace string) *table.Table {
	return table.New(table.Metadata{
		Name: keyspace + ".dead_letter_queue",
		Columns: []string{"event_id", "aggregate_id", "aggregate_type", "aggregate_version", "event_type", "payload",
			"headers", "occurred_at", "topic", "error", "attempts", "first_failed_at", "last_failed_at", "state"},
		PartKey: []string{"event_id"},
	})
}

// NewDLQStore returns a DLQStore on the table of keyspace (already migrated).
func NewDLQStore(session gocqlx.Session, keyspace string) *DLQStore {
	return &DLQStore{session: session, table: DeadLetterTable(keyspace)}
}

// Put inserts or replaces each entry (an INSERT is an upsert in CQL). It
// checks every entry before writing any.
func (s *DLQStore) Put(ctx context.Context, entries []*messages.DeadLetter) error {
	rows := make([]DeadLetterRow, len(entries))
	for i, e := range entries {
		r, err := deadLetterRow(e)
		if err != nil {
			return fmt.Errorf("store dead letter: %w", err)
		}
		rows[i] = r
	}
	stmt, names := s.table.Insert()
	for _, r := range rows {
		if err := s.session.ContextQuery(ctx, stmt, names).BindStruct(r).ExecRelease(); err != nil {
			return fmt.Errorf("store dead letter %s: %w", r.EventID, err)
		}
	}
	return nil
}

// Get reads the entry of eventID; found is false when there is none.
func (s *DLQStore) Get(ctx context.Context, eventID string) (*messages.DeadLetter, bool, error) {
	id, err := parseEventID(eventID)
	if err != nil {
		return nil, false, err
	}
	stmt, names := s.table.Get()
	var r DeadLetterRow
	err = s.session.ContextQuery(ctx, stmt, names).Bind(gocql.UUID(id)).GetRelease(&r)
	if errors.Is(err, gocql.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load dead letter %s: %w", eventID, err)
	}
	return r.deadLetter(), true, nil
}

// List reads every entry. The table only grows by failures, which an
// operator resolves, so a full scan stays small.
func (s *DLQStore) List(ctx context.Context) ([]*messages.DeadLetter, error) {
	stmt, names := s.table.SelectAll()
	var rows []DeadLetterRow
	if err := s.session.ContextQuery(ctx, stmt, names).SelectRelease(&rows); err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out := make([]*messages.DeadLetter, len(rows))
	for i, r := range rows {
		out[i] = r.deadLetter()
	}
	return out, nil
}

func deadLetterRow(e *messages.DeadLetter) (DeadLetterRow, error) {
	ev := e.GetEvent()
	eventID, err := parseEventID(ev.GetEventId())
	if err != nil {
		return DeadLetterRow{}, err
	}
	var aggregateID gocql.UUID
	if ev.GetAggregateId() != "" {
		if aggregateID, err = gocql.ParseUUID(ev.GetAggregateId()); err != nil {
			return DeadLetterRow{}, &BadEventError{Field: "aggregate_id", Err: err}
		}
	}
	if _, ok := messages.DeadLetterState_name[int32(e.GetState())]; !ok || e.GetState() == messages.DeadLetterState_DEAD_LETTER_STATE_UNSPECIFIED {
		return DeadLetterRow{}, &BadEventError{Field: "state", Err: fmt.Errorf("unknown state %d", e.GetState())}
	}
	return DeadLetterRow{
		EventID: gocql.UUID(eventID), AggregateID: aggregateID, AggregateType: ev.GetAggregateType(),
		AggregateVersion: ev.GetAggregateVersion(), EventType: ev.GetEventType(), Payload: ev.GetPayload(),
		Headers: ev.GetHeaders(), OccurredAt: timeOf(ev.GetOccurredAt()), Topic: e.GetTopic(), Error: e.GetError(),
		Attempts: e.GetAttempts(), FirstFailedAt: timeOf(e.GetFirstFailedAt()), LastFailedAt: timeOf(e.GetLastFailedAt()),
		State: dlq.StateName(e.GetState()),
	}, nil
}

func (r DeadLetterRow) deadLetter() *messages.DeadLetter {
	ev := &messages.OutboxEvent{
		EventId: r.EventID.String(), AggregateType: r.AggregateType, AggregateVersion: r.AggregateVersion,
		EventType: r.EventType, Payload: r.Payload, Headers: r.Headers, OccurredAt: timestampOf(r.OccurredAt),
	}
	if r.AggregateID != (gocql.UUID{}) {
		ev.AggregateId = r.AggregateID.String()
	}
	return &messages.DeadLetter{
		Event: ev, Topic: r.Topic, Error: r.Error, Attempts: r.Attempts,
		FirstFailedAt: timestampOf(r.FirstFailedAt), LastFailedAt: timestampOf(r.LastFailedAt),
		State: messages.DeadLetterState(messages.DeadLetterState_value["DEAD_LETTER_STATE_"+strings.ToUpper(r.State)]),
	}
}

// timeOf and timestampOf map an unset timestamp to the zero time and back.
func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func timestampOf(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
