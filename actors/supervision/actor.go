package supervision

import (
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/messages"
)

// logActor numbers records, appends them to the file and answers EventsQuery from the
// most recent events kept in memory.
type logActor struct {
	cfg  Config
	in   *inbox
	file *file
	// events holds the most recent events in ascending seq: up to twice
	// cfg.Retain, so that trimming it to the last cfg.Retain (recent) copies
	// once per cfg.Retain appends rather than on every one.
	events []*messages.SupervisionEvent
	seq    uint64
}

func (a *logActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.start(ctx)
	case drain:
		for _, r := range a.in.take() {
			a.append(ctx, r)
		}
	case *messages.EventsQuery:
		ctx.Respond(a.query(m, time.Now()))
	case *actor.Restarting:
		a.close(ctx)
	case *actor.Stopping:
		a.in.detach()
		a.close(ctx)
	}
}

func (a *logActor) start(ctx actor.Context) {
	f, past, err := openFile(a.cfg.Path, a.cfg.Retain)
	if err != nil {
		// Without its file the log cannot keep its promise: fail, and let the supervisor decide.
		panic(fmt.Errorf("supervision log: %w", err))
	}
	if f.skipped > 0 {
		ctx.Logger().Warn("supervision log: skipped malformed lines", slog.String("path", a.cfg.Path), slog.Int("lines", f.skipped))
	}
	a.file, a.events = f, past
	if n := len(past); n > 0 {
		a.seq = past[n-1].GetSeq()
	}
	for _, r := range a.in.attach(ctx.Self()) {
		a.append(ctx, r)
	}
}

func (a *logActor) close(ctx actor.Context) {
	if a.file == nil {
		return
	}
	if err := a.file.close(); err != nil {
		ctx.Logger().Error("supervision log: close", slog.String("path", a.cfg.Path), slog.Any("error", err))
	}
	a.file = nil
}

func (a *logActor) append(ctx actor.Context, r *Record) {
	a.seq++
	ev := &messages.SupervisionEvent{
		Seq:       a.seq,
		Time:      timestamppb.New(r.Time),
		Actor:     r.Actor,
		Event:     r.Event,
		Reason:    r.Reason,
		Directive: r.Directive,
	}
	if err := a.file.write(ev); err != nil {
		ctx.Logger().Error("supervision log: write", slog.String("path", a.cfg.Path), slog.Any("error", err))
	}
	if len(a.events) >= 2*a.cfg.Retain {
		a.events = append(a.events[:0:0], a.recent()...)
	}
	a.events = append(a.events, ev)
}

// recent returns the last cfg.Retain events, the ones queries see.
func (a *logActor) recent() []*messages.SupervisionEvent {
	return a.events[max(0, len(a.events)-a.cfg.Retain):]
}

// query returns the events after q.after_seq and not older than q.since, at most limit.
func (a *logActor) query(q *messages.EventsQuery, now time.Time) any {
	var since time.Time
	switch s := q.GetSince().(type) {
	case *messages.EventsQuery_SinceAgo:
		if err := s.SinceAgo.CheckValid(); err != nil || s.SinceAgo.AsDuration() < 0 {
			return &messages.CommandRejected{Code: messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, Reason: "since_ago: must be a non-negative duration"}
		}
		since = now.Add(-s.SinceAgo.AsDuration())
	case *messages.EventsQuery_SinceTime:
		if err := s.SinceTime.CheckValid(); err != nil {
			return &messages.CommandRejected{Code: messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, Reason: fmt.Sprintf("since_time: %v", err)}
		}
		since = s.SinceTime.AsTime()
	}
	limit := int(q.GetLimit())
	if limit == 0 || limit > a.cfg.MaxPage {
		limit = a.cfg.MaxPage
	}
	page := &messages.EventsPage{LastSeq: q.GetAfterSeq()}
	events := a.recent()
	first := sort.Search(len(events), func(i int) bool { return events[i].GetSeq() > q.GetAfterSeq() })
	for _, ev := range events[first:] {
		if len(page.Events) == limit {
			page.HasMore = true
			break
		}
		page.LastSeq = ev.GetSeq()
		if ev.GetTime().AsTime().Before(since) {
			continue
		}
		page.Events = append(page.Events, ev)
	}
	return page
}
