package engine

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/google/uuid"
)

// Request tracing: a request whose frame carries the tracing flag runs
// through HandleTraced, which records what the engine did (parse, execute,
// rows read or written, wall time) as one session with its events. The
// sessions are kept in memory, the most recent maxTraceSessions of them,
// and read through the system_traces tables (system_traces.go).

const (
	maxTraceSessions = 1000
	maxTraceEvents   = 100
)

// traceSession is one traced request; it is immutable once stored.
type traceSession struct {
	id                  uuid.UUID
	client, coordinator net.IP
	command, request    string
	params              map[string]string
	started             time.Time
	durationMicros      int32
	events              []traceEvent
}

type traceEvent struct {
	id            uuid.UUID
	activity      string
	elapsedMicros int32
}

// traceStore keeps the latest traced sessions, oldest first.
type traceStore struct {
	mu       sync.Mutex
	sessions []*traceSession
}

func (s *traceStore) add(ts *traceSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) >= maxTraceSessions {
		s.sessions = append(s.sessions[:0:0], s.sessions[len(s.sessions)-maxTraceSessions+1:]...)
	}
	s.sessions = append(s.sessions, ts)
}

func (s *traceStore) snapshot() []*traceSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[:len(s.sessions):len(s.sessions)]
}

// tracer collects the events of one traced request. A nil *tracer records
// nothing, so untraced requests pay one nil check per event.
type tracer struct {
	mu  sync.Mutex
	s   *traceSession
	now func() time.Time
}

type tracerKey struct{}

func withTracer(ctx context.Context, t *tracer) context.Context {
	return context.WithValue(ctx, tracerKey{}, t)
}

func tracerFrom(ctx context.Context) *tracer {
	t, _ := ctx.Value(tracerKey{}).(*tracer)
	return t
}

// event records one step of the request.
func (t *tracer) event(format string, args ...any) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.s.events) >= maxTraceEvents {
		return
	}
	id, err := uuid.NewUUID()
	if err != nil {
		id = uuid.New()
	}
	t.s.events = append(t.s.events, traceEvent{id: id, activity: fmt.Sprintf(format, args...), elapsedMicros: t.sinceStart()})
}

func (t *tracer) sinceStart() int32 {
	return int32(min(t.now().Sub(t.s.started).Microseconds(), 1<<31-1))
}

// HandleTraced is Handle for a request with the tracing flag: it also
// records the request in system_traces and returns the trace session id
// for the response frame. The session is stored before the response
// leaves, so a driver that reads system_traces right away finds it.
func (e *Engine) HandleTraced(ctx context.Context, sess *Session, req message.Message, client net.IP) (message.Message, []byte) {
	id, err := uuid.NewUUID()
	if err != nil {
		id = uuid.New()
	}
	t := &tracer{now: e.cfg.Now, s: &traceSession{
		id: id, client: client, coordinator: net.ParseIP(e.cfg.ListenIP), started: e.cfg.Now(),
		params: map[string]string{},
	}}
	e.describe(t.s, req)
	resp := e.Handle(withTracer(ctx, t), sess, req)
	if m, ok := resp.(message.Error); ok {
		t.event("Request failed: %s", m.GetErrorMessage())
	}
	t.event("Done processing - preparing a result")
	t.mu.Lock()
	t.s.durationMicros = max(t.sinceStart(), 1) // 0 means "still running" to the drivers
	t.mu.Unlock()
	e.traces.add(t.s)
	return resp, id[:]
}

// describe fills the session's request, command and parameters the way
// ScyllaDB names them.
func (e *Engine) describe(s *traceSession, req message.Message) {
	var opts *message.QueryOptions
	switch m := req.(type) {
	case *message.Query:
		s.request, s.command, opts = "Execute CQL3 query", "QUERY", m.Options
		s.params["query"] = m.Query
	case *message.Execute:
		s.request, s.command, opts = "Execute CQL3 prepared query", "EXECUTE", m.Options
		if c, ok := e.lookupPrepared(m.QueryId); ok {
			s.params["query"] = c.query
		}
	case *message.Batch:
		s.request, s.command = "Execute batch of CQL3 queries", "BATCH"
		s.params["consistency_level"] = m.Consistency.String()
	case *message.Prepare:
		s.request, s.command = "Prepare CQL3 query", "PREPARE"
		s.params["query"] = m.Query
	default:
		s.request, s.command = req.GetOpCode().String(), req.GetOpCode().String()
	}
	if opts != nil {
		s.params["consistency_level"] = opts.Consistency.String()
		if opts.SerialConsistency != nil {
			s.params["serial_consistency_level"] = opts.SerialConsistency.String()
		}
		if opts.PageSize > 0 {
			s.params["page_size"] = strconv.Itoa(int(opts.PageSize))
		}
	}
}

// traceWrites names the tables mutations go to and counts their row
// writes, for a trace event.
func traceWrites(muts []Mutation) string {
	seen := map[string]bool{}
	var b strings.Builder
	rows := 0
	for _, m := range muts {
		rows += len(m.Rows)
		if name := m.Keyspace + "." + m.Table; !seen[name] {
			seen[name] = true
			b.WriteString(" " + name)
		}
	}
	if len(muts) == 0 {
		return ""
	}
	return fmt.Sprintf(" to%s: %d row(s) written", b.String(), rows)
}
