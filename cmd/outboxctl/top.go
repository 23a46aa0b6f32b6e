package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/infra/cliflags"
)

// defaultMetricsURL matches the node's default --metrics-addr.
const defaultMetricsURL = "http://127.0.0.1:9090/metrics"

// top shows a live view of a node, refreshed every --interval: publish,
// relay and command rates from the counters of its /metrics, CDC lag,
// breaker state, and the dead letters waiting, from its DLQ over remote.
// The first reading must succeed (else the error's exit code, 3 when
// unreachable); a later failed refresh is shown and the next one retries.
// Ctrl+C ends it with exit 0.
func topFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "metrics", Value: defaultMetricsURL, Usage: "URL of the node's Prometheus /metrics"},
		&cli.DurationFlag{Name: "interval", Value: time.Second, Usage: "time between refreshes"},
		&cli.IntFlag{Name: "count", Usage: "stop after this many refreshes (0: until interrupted)"},
	}
}

func top(e *env, cmd *cli.Command) error {
	if _, err := cliflags.Args(cmd); err != nil {
		return err
	}
	metricsURL, interval, count := cmd.String("metrics"), cmd.Duration("interval"), cmd.Int("count")
	if interval <= 0 {
		return usagef("top: --interval must be positive, got %s", interval)
	}
	if count < 0 {
		return usagef("top: --count must not be negative, got %d", count)
	}
	if u, err := url.Parse(metricsURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("top: --metrics %q is not an http(s) URL", metricsURL)
	}
	c, err := e.connect()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	src := &topSource{http: &http.Client{Timeout: e.timeout}, metrics: metricsURL, node: c}
	prev, err := src.sample(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	scr := &screen{w: e.stdout, json: e.output == "json", terminal: isTerminal(e.stdout),
		title: fmt.Sprintf("outboxctl top  node %s  metrics %s  every %s  (Ctrl+C to quit)", e.remoteAddr, metricsURL, interval)}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 0; count == 0 || n < count; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cur, err := src.sample(ctx)
		if ctx.Err() != nil {
			return nil
		}
		v := topView{Time: time.Now(), Breaker: "unknown"}
		if err != nil {
			v.Error = err.Error()
		} else {
			v, prev = rates(prev, cur), cur
		}
		if err := scr.show(v); err != nil {
			return fmt.Errorf("write refresh: %w", err)
		}
	}
	return nil
}
