package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/messages"
)

// unhealthyError makes `outboxctl health` exit non-zero when the status is
// not ok, like /health answering 503. The node answered: it says what is
// at fault, not that the node is down.
type unhealthyError struct{ summary string }

func (e *unhealthyError) Error() string { return "status " + e.summary }

// health prints the Health actor's report in the JSON shape of /health.
func health(e *env, cmd *cli.Command) error {
	if _, err := cliflags.Args(cmd); err != nil {
		return err
	}
	c, err := e.connect()
	if err != nil {
		return err
	}
	r, err := expect[*messages.HealthReport](c.request(&messages.HealthQuery{}))
	if err != nil {
		return err
	}
	h := metrics.HealthFromReport(r)
	if e.output == "json" {
		b, err := json.Marshal(h)
		if err != nil {
			return fmt.Errorf("encode health: %w", err)
		}
		fmt.Fprintln(e.stdout, string(b))
	} else {
		fmt.Fprintln(e.stdout, healthText(h))
	}
	if !h.OK() {
		return &unhealthyError{summary: h.Summary()}
	}
	return nil
}

// healthText heads the components with the status and its reason: "node"
// is kept for the process, which answered.
func healthText(h metrics.Health) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %s", "status", h.Summary())
	for _, name := range slices.Sorted(maps.Keys(h.Components)) {
		c := h.Components[name]
		fmt.Fprintf(&b, "\n%-12s %-9s %s", name, c.Status, c.Detail)
	}
	return b.String()
}
