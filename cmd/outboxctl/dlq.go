package main

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
)

func dlqList(e *env, args []string) error {
	if _, err := parseN(newFlagSet("dlq list", &e.globals), args); err != nil {
		return err
	}
	c, err := e.connect()
	if err != nil {
		return err
	}
	r, err := expect[*messages.DLQListResult](c.request(&messages.DLQList{}))
	if err != nil {
		return err
	}
	return e.print(r, func() string { return dlqText(r.GetLetters()) })
}

func dlqReplay(e *env, args []string) error {
	fs := newFlagSet("dlq replay", &e.globals)
	all := fs.Bool("all", false, "replay every dead letter")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	req := &messages.DLQReplay{All: *all}
	switch {
	case *all && len(pos) == 0:
	case !*all && len(pos) == 1:
		req.EventId = pos[0]
	case *all:
		return usagef("dlq replay: want EVENT_ID or --all, not both")
	default:
		return usagef("dlq replay: want one EVENT_ID or --all, got %d argument(s)", len(pos))
	}
	return dlqChange(e, req)
}

func dlqSkip(e *env, args []string) error {
	pos, err := parseN(newFlagSet("dlq skip", &e.globals), args, "EVENT_ID")
	if err != nil {
		return err
	}
	return dlqChange(e, &messages.DLQSkip{EventId: pos[0]})
}

func dlqChange(e *env, req proto.Message) error {
	c, err := e.connect()
	if err != nil {
		return err
	}
	r, err := expect[*messages.DLQResult](c.request(req))
	if err != nil {
		return err
	}
	return e.print(r, func() string { return fmt.Sprintf("%d affected %s", r.GetAffected(), r.GetMessage()) })
}

func dlqText(letters []*messages.DeadLetter) string {
	if len(letters) == 0 {
		return "no dead letters"
	}
	var b strings.Builder
	for i, l := range letters {
		if i > 0 {
			b.WriteByte('\n')
		}
		ev := l.GetEvent()
		fmt.Fprintf(&b, "%s %s %s/%s v%d topic=%s attempts=%d last_failed=%s error=%q",
			ev.GetEventId(), trimEnum(l.GetState().String(), "DEAD_LETTER_STATE_"), ev.GetAggregateType(), ev.GetAggregateId(),
			ev.GetAggregateVersion(), l.GetTopic(), l.GetAttempts(), l.GetLastFailedAt().AsTime().Format(time.RFC3339), l.GetError())
	}
	return b.String()
}
