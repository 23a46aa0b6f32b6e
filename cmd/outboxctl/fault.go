package main

import (
	"github.com/outboxnode/outbox/messages"
)

// faultInject makes a node actor panic once, to exercise supervision; the
// node refuses unless started with --enable-fault-injection.
func faultInject(e *env, args []string) error {
	pos, err := parseN(newFlagSet("fault inject", &e.globals), args, "ACTOR")
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
