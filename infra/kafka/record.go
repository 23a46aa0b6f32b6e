package kafka

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outboxnode/outbox/messages"
)

// Header names set on every record (docs/architecture.md, data path).
const (
	HeaderEventID          = "event_id"
	HeaderEventType        = "event_type"
	HeaderAggregateType    = "aggregate_type"
	HeaderAggregateID      = "aggregate_id"
	HeaderAggregateVersion = "aggregate_version"
	HeaderOccurredAt       = "occurred_at"
)

// Record is one Kafka record ready to send.
type Record struct {
	Topic     string
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
}

// Header is one record header.
type Header struct {
	Key   string
	Value string
}

// Mapper turns outbox events into records. It is safe for concurrent use.
type Mapper struct {
	topics topicTemplate
}

// NewMapper returns a Mapper for a topic template (see Config.TopicTemplate).
func NewMapper(template string) (*Mapper, error) {
	t, err := newTopicTemplate(template)
	if err != nil {
		return nil, err
	}
	return &Mapper{topics: t}, nil
}

// Topic returns the topic ev is published to; it may be an illegal name,
// which Record reports.
func (m *Mapper) Topic(ev *messages.OutboxEvent) string {
	return m.topics.render(ev)
}

// Record maps ev: key = aggregate id, value = compact protojson of ev, the headers
// of docs/architecture.md followed by the event's own headers (sorted, reserved
// names skipped), timestamp = occurred_at. Errors are *PublishError of
// KindPermanent wrapping ErrInvalidEvent or ErrInvalidTopic.
func (m *Mapper) Record(ev *messages.OutboxEvent) (Record, error) {
	topic := m.Topic(ev)
	fail := func(err error) (Record, error) {
		return Record{}, &PublishError{Kind: KindPermanent, Topic: topic, Err: err}
	}
	if err := checkEvent(ev); err != nil {
		return fail(err)
	}
	if !ValidTopic(topic) {
		return fail(fmt.Errorf("%w: %q from event type %q", ErrInvalidTopic, topic, ev.GetEventType()))
	}
	value, err := appendValue(nil, ev)
	if err != nil {
		return fail(fmt.Errorf("%w: encode: %w", ErrInvalidEvent, err))
	}
	at := ev.GetOccurredAt().AsTime()
	headers := []Header{
		{HeaderEventID, ev.GetEventId()},
		{HeaderEventType, ev.GetEventType()},
		{HeaderAggregateType, ev.GetAggregateType()},
		{HeaderAggregateID, ev.GetAggregateId()},
		{HeaderAggregateVersion, strconv.Itoa(int(ev.GetAggregateVersion()))},
		{HeaderOccurredAt, at.Format(time.RFC3339Nano)},
	}
	own := ev.GetHeaders()
	for _, k := range slices.Sorted(maps.Keys(own)) {
		if !reservedHeader(k) {
			headers = append(headers, Header{k, own[k]})
		}
	}
	return Record{Topic: topic, Key: []byte(ev.GetAggregateId()), Value: value, Headers: headers, Timestamp: at}, nil
}

func checkEvent(ev *messages.OutboxEvent) error {
	switch {
	case ev == nil:
		return fmt.Errorf("%w: nil event", ErrInvalidEvent)
	case ev.GetEventId() == "":
		return fmt.Errorf("%w: empty event_id", ErrInvalidEvent)
	case ev.GetEventType() == "":
		return fmt.Errorf("%w: event %s: empty event_type", ErrInvalidEvent, ev.GetEventId())
	case ev.GetAggregateId() == "":
		return fmt.Errorf("%w: event %s: empty aggregate_id", ErrInvalidEvent, ev.GetEventId())
	case ev.GetOccurredAt() == nil:
		return fmt.Errorf("%w: event %s: no occurred_at", ErrInvalidEvent, ev.GetEventId())
	}
	if err := ev.GetOccurredAt().CheckValid(); err != nil {
		return fmt.Errorf("%w: event %s: occurred_at: %w", ErrInvalidEvent, ev.GetEventId(), err)
	}
	return nil
}

func reservedHeader(k string) bool {
	switch k {
	case HeaderEventID, HeaderEventType, HeaderAggregateType, HeaderAggregateID, HeaderAggregateVersion, HeaderOccurredAt:
		return true
	}
	return false
}

// topicTemplate is a topic name with {{event_type}} / {{aggregate_type}}
// placeholders, split once into literal and placeholder parts; plain
// substitution rather than text/template keeps it to exactly these two.
type topicTemplate struct{ parts []topicPart }

// topicPart is a literal, or an event field when field is set.
type topicPart struct {
	literal string
	field   func(*messages.OutboxEvent) string
}

var placeholders = map[string]func(*messages.OutboxEvent) string{
	"{{event_type}}":     (*messages.OutboxEvent).GetEventType,
	"{{aggregate_type}}": (*messages.OutboxEvent).GetAggregateType,
}

func newTopicTemplate(text string) (topicTemplate, error) {
	var t topicTemplate
	var probe strings.Builder // the template with every placeholder as "x"
	for rest := text; rest != ""; {
		open := strings.Index(rest, "{{")
		if open < 0 {
			t.parts = append(t.parts, topicPart{literal: rest})
			probe.WriteString(rest)
			break
		}
		if open > 0 {
			t.parts = append(t.parts, topicPart{literal: rest[:open]})
			probe.WriteString(rest[:open])
		}
		end := strings.Index(rest[open:], "}}")
		if end < 0 {
			return topicTemplate{}, fmt.Errorf("topic template %q: unclosed {{", text)
		}
		name := rest[open : open+end+2]
		field, ok := placeholders[name]
		if !ok {
			return topicTemplate{}, fmt.Errorf("topic template %q: unknown placeholder %s (known: {{event_type}}, {{aggregate_type}})", text, name)
		}
		t.parts = append(t.parts, topicPart{field: field})
		probe.WriteString("x")
		rest = rest[open+end+2:]
	}
	if !ValidTopic(probe.String()) {
		return topicTemplate{}, fmt.Errorf("topic template %q: %w: want 1-249 characters of [a-zA-Z0-9._-]", text, ErrInvalidTopic)
	}
	return t, nil
}

func (t topicTemplate) render(ev *messages.OutboxEvent) string {
	if len(t.parts) == 1 && t.parts[0].field != nil {
		return t.parts[0].field(ev) // the default template: no copy
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.field != nil {
			b.WriteString(p.field(ev))
		} else {
			b.WriteString(p.literal)
		}
	}
	return b.String()
}

// ValidTopic reports whether t is a legal Kafka topic name: 1-249
// characters of [a-zA-Z0-9._-], and neither "." nor "..".
func ValidTopic(t string) bool {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for _, r := range t {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}
