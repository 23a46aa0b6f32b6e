package main

import (
	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/messages"
)

// faultInject makes a node actor panic once, to exercise supervision; the
// node refuses unless started with --enable-fault-injection.
func faultInject(e *env, cmd *cli.Command) error {
	pos, err := cliflags.Args(cmd, "ACTOR")
	if err != nil {
		return err
	}
	c, err := e.connect()
	if err != nil {
		return err
	}
	r, err := expect[*messages.FaultInjected](c.request(&messages.InjectFault{Actor: pos[0]}))
	if err != nil {
		return err
	}
	return e.print(r, func() string { return "fault injected into " + r.GetActor() })
}
