package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/messages"
)

// dlqCommands are the subcommands of `dlq`.
func dlqCommands(e *env) []*cli.Command {
	return []*cli.Command{
		{Name: "list", Usage: "list the dead letters, oldest first", Action: action(e, dlqList)},
		{Name: "replay", ArgsUsage: "EVENT_ID | --all", Usage: "publish a dead letter again, with the events parked behind it (exit 4 when some fail again)",
			Action: action(e, dlqReplay), Flags: []cli.Flag{&cli.BoolFlag{Name: "all", Usage: "replay every dead letter"}}},
		{Name: "skip", ArgsUsage: "EVENT_ID", Usage: "drop a dead letter and release the events parked behind it", Action: action(e, dlqSkip)},
	}
}

func dlqList(e *env, cmd *cli.Command) error {
	if _, err := cliflags.Args(cmd); err != nil {
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

func dlqReplay(e *env, cmd *cli.Command) error {
	all, pos := cmd.Bool("all"), cmd.Args().Slice()
	req := &messages.DLQReplay{All: all}
	switch {
	case all && len(pos) == 0:
	case !all && len(pos) == 1:
		req.EventId = pos[0]
	case all:
		return usagef("dlq replay: want EVENT_ID or --all, not both")
	default:
		return usagef("dlq replay: want one EVENT_ID or --all, got %d argument(s)", len(pos))
	}
	return dlqChange(e, req)
}

func dlqSkip(e *env, cmd *cli.Command) error {
	pos, err := cliflags.Args(cmd, "EVENT_ID")
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
	if err := e.print(r, func() string { return dlqResultText(r) }); err != nil {
		return err
	}
	if r.GetFailed() > 0 {
		return &partialError{msg: fmt.Sprintf("%d dead letter(s) failed again; see dlq list", r.GetFailed())}
	}
	return nil
}

func dlqResultText(r *messages.DLQResult) string {
	return fmt.Sprintf("%d affected %d failed %s", r.GetAffected(), r.GetFailed(), r.GetMessage())
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
