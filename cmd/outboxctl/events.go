package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/messages"
)

// followInterval is how often --follow asks for new events.
const followInterval = 500 * time.Millisecond

// events prints the supervision events log, one event per line (JSON lines
// with -o json); --follow keeps polling until interrupted.
func eventsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "follow", Usage: "keep printing new events until interrupted"},
		&cli.DurationFlag{Name: "since", Usage: "only events newer than this, e.g. 10m"},
		&cli.Uint32Flag{Name: "limit", Usage: "events per request (0: the node's default)"},
	}
}

func events(e *env, cmd *cli.Command) error {
	if _, err := cliflags.Args(cmd); err != nil {
		return err
	}
	follow, since, limit := cmd.Bool("follow"), cmd.Duration("since"), cmd.Uint32("limit")
	if since < 0 {
		return usagef("events: --since must not be negative")
	}
	c, err := e.connect()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	q := &messages.EventsQuery{Limit: limit}
	if since > 0 {
		q.Since = &messages.EventsQuery_SinceAgo{SinceAgo: durationpb.New(since)}
	}
	for {
		page, err := expect[*messages.EventsPage](c.request(q))
		if err != nil {
			return err
		}
		for _, ev := range page.GetEvents() {
			if err := e.print(ev, func() string { return eventText(ev) }); err != nil {
				return err
			}
		}
		q.AfterSeq = page.GetLastSeq()
		if page.GetHasMore() {
			continue
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followInterval):
		}
	}
}

func eventText(ev *messages.SupervisionEvent) string {
	s := fmt.Sprintf("%d %s %s %s", ev.GetSeq(), ev.GetTime().AsTime().Format(time.RFC3339Nano), ev.GetActor(), ev.GetEvent())
	if ev.GetDirective() != "" {
		s += " directive=" + ev.GetDirective()
	}
	if ev.GetReason() != "" {
		s += fmt.Sprintf(" reason=%q", ev.GetReason())
	}
	return s
}
