package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
)

// Defaults of a soak (soakConfig.SetDefaults).
const (
	DefaultSoakDuration = 10 * time.Minute
	DefaultSoakInterval = 10 * time.Second
	DefaultSoakRate     = 500
)

// limits bound the growth of each sampled series over the second half of
// a soak (the first half is start-up: caches and pools fill). A series
// grows without bound when the rise of its trend line across the second
// half exceeds both rel times its mean there and abs.
var limits = []limit{
	{name: "rss_mib", rel: 0.10, abs: 16},
	{name: "goroutines", rel: 0.10, abs: 20},
	{name: "open_fds", rel: 0.10, abs: 10},
	{name: "cdc_lag_s", rel: 0, abs: 2},
}

// soakIdleTimeout passivates the soak node's order actors after a minute,
// so that their number is steady well before the second half begins.
const soakIdleTimeout = time.Minute

// minHalfSamples is the fewest samples a second half may have: fewer
// cannot tell a trend from noise, so the soak fails rather than pass.
const minHalfSamples = 3

type limit struct {
	name     string
	rel, abs float64
}

// soakConfig is one soak.
type soakConfig struct {
	Duration time.Duration
	Interval time.Duration
	Rate     int // orders/s
	Bins     binaries
}

// SetDefaults fills the zero fields.
func (c *soakConfig) SetDefaults() {
	c.Duration = cmpOr(c.Duration, DefaultSoakDuration)
	c.Interval = cmpOr(c.Interval, DefaultSoakInterval)
	c.Rate = cmpOr(c.Rate, DefaultSoakRate)
}

// Validate rejects a soak too short to judge.
func (c soakConfig) Validate() error {
	if c.Interval <= 0 || c.Rate <= 0 {
		return errors.New("interval and rate must be positive")
	}
	if n := int(c.Duration / c.Interval); n < 2*minHalfSamples {
		return fmt.Errorf("duration %s holds %d samples of %s: at least %d are needed", c.Duration, n, c.Interval, 2*minHalfSamples)
	}
	if c.Bins.node == "" || c.Bins.devstack == "" {
		return errors.New("the node and devstack binaries are needed")
	}
	return nil
}

func soakCommand() *cli.Command {
	return &cli.Command{
		Name: "soak",
		Usage: "steady load on a node (devstack store and broker); samples RSS, goroutines, open fds and CDC lag; " +
			"fails when one grows over the second half by more than both 10% of its mean and 16 MiB / 20 goroutines / 10 fds (lag: 2 s)",
		Flags: append(binFlags(),
			&cli.DurationFlag{Name: "duration", Value: DefaultSoakDuration, Sources: cli.EnvVars("SOAK_DURATION"), Usage: "how long the load runs"},
			&cli.DurationFlag{Name: "interval", Value: DefaultSoakInterval, Usage: "time between samples"},
			&cli.IntFlag{Name: "rate", Value: DefaultSoakRate, Usage: "orders/s"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg := soakConfig{Duration: cmd.Duration("duration"), Interval: cmd.Duration("interval"), Rate: cmd.Int("rate"),
				Bins: binaries{node: cmd.String("node-bin"), devstack: cmd.String("devstack-bin")}}
			series, err := runSoak(ctx, cfg, progressLog())
			if len(series[limits[0].name]) == 0 {
				return err
			}
			// The series are printed and judged even when commands failed: both verdicts count.
			writeSeries(os.Stdout, cfg.Interval, series)
			return errors.Join(err, checkSeries(os.Stdout, series))
		},
	}
}

// series are the samples by name, in the order of limits.
type series map[string][]float64

func runSoak(ctx context.Context, cfg soakConfig, log *slog.Logger) (series, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	ds, cql, brokers, err := startDevstack(cfg.Bins.devstack)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ds.stop(stopTimeout) }()
	// Order actors live until they have been idle soakIdleTimeout: with the
	// node's default (minutes) their number grows through most of a short
	// soak, and the second half would not be steady state.
	args := append(devstackNodeArgs(cql, brokers, DefaultWindow), "--order-idle-timeout", soakIdleTimeout.String())
	n, err := startNode(cfg.Bins.node, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = n.stop() }()
	log.Info("soak started", "rate", cfg.Rate, "for", cfg.Duration, "every", cfg.Interval)
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	loaded := make(chan loadResult, 1)
	go func() {
		loaded <- pace(loadCtx, pacing{rate: cfg.Rate, d: cfg.Duration, workers: commandWorkers}, func() (string, error) { return newCommander().create(n.remote) })
	}()
	s := series{}
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	for i := 1; i <= int(cfg.Duration/cfg.Interval); i++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-n.done:
			return nil, fmt.Errorf("node exited during the soak: %s", n.tail())
		case <-tick.C:
		}
		if err := n.sample(s); err != nil {
			return nil, err
		}
		log.Info("sample", "n", i, "rss_mib", s["rss_mib"][i-1], "goroutines", s["goroutines"][i-1],
			"open_fds", s["open_fds"][i-1], "cdc_lag_s", s["cdc_lag_s"][i-1])
	}
	stopLoad()
	res := <-loaded
	log.Info("soak load done", "orders", len(res.ids), "errors", res.errs)
	if res.errs > 0 {
		return s, fmt.Errorf("soak: %d of %d commands failed, last: %w", res.errs, res.errs+int64(len(res.ids)), res.lastErr)
	}
	return s, nil
}

// sample appends the node's RSS, goroutines, open fds and CDC lag to s.
func (n *node) sample(s series) error {
	rss, err := n.memKiB("VmRSS")
	if err != nil {
		return err
	}
	fds, err := n.fds()
	if err != nil {
		return err
	}
	m, err := scrape("http://" + n.metrics + "/metrics")
	if err != nil {
		return err
	}
	s["rss_mib"] = append(s["rss_mib"], float64(rss)/1024)
	s["goroutines"] = append(s["goroutines"], m["go_goroutines"])
	s["open_fds"] = append(s["open_fds"], float64(fds))
	s["cdc_lag_s"] = append(s["cdc_lag_s"], m["cdc_lag_seconds"])
	return nil
}

// scrape reads a Prometheus text page: each metric name maps to the
// largest value among its series (the worst stream's lag).
func scrape(url string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		name, _, _ := strings.Cut(f[0], "{")
		if old, ok := out[name]; !ok || v > old {
			out[name] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return out, nil
}

// writeSeries prints the samples as a Markdown table.
func writeSeries(w io.Writer, interval time.Duration, s series) {
	fmt.Fprint(w, "| t |")
	for _, l := range limits {
		fmt.Fprintf(w, " %s |", l.name)
	}
	fmt.Fprint(w, "\n|---:|")
	for range limits {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	for i := range s[limits[0].name] {
		fmt.Fprintf(w, "| %s |", time.Duration(i+1)*interval)
		for _, l := range limits {
			fmt.Fprintf(w, " %.1f |", s[l.name][i])
		}
		fmt.Fprintln(w)
	}
}

// checkSeries prints one verdict line per series and fails when any grows
// without bound.
func checkSeries(w io.Writer, s series) error {
	var errs []error
	for _, l := range limits {
		rise, bound, err := l.check(s[l.name])
		if err != nil {
			errs = append(errs, err)
			fmt.Fprintf(w, "soak: %s FAIL: %v\n", l.name, err)
			continue
		}
		fmt.Fprintf(w, "soak: %s ok: rise %.2f over the second half, bound %.2f\n", l.name, rise, bound)
	}
	return errors.Join(errs...)
}

// check fits a trend line to the second half of xs and fails when its rise
// across that half exceeds the limit.
func (l limit) check(xs []float64) (rise, bound float64, err error) {
	half := xs[len(xs)/2:]
	if len(half) < minHalfSamples {
		return 0, 0, fmt.Errorf("%d samples in the second half, need %d", len(half), minHalfSamples)
	}
	var mean float64
	for _, x := range half {
		mean += x
	}
	mean /= float64(len(half))
	rise = slope(half) * float64(len(half)-1)
	bound = max(l.rel*mean, l.abs)
	if rise > bound {
		return rise, bound, fmt.Errorf("rises %.2f over the second half (mean %.2f), more than %.2f: unbounded growth", rise, mean, bound)
	}
	return rise, bound, nil
}

// slope is the Theil-Sen slope of ys against their index: the median of
// the slopes between every pair of samples. Samples that land on a burst
// (goroutines of in-flight requests, a GC cycle's heap) do not tilt it the
// way they tilt a least-squares line, while a steady rise moves every pair.
func slope(ys []float64) float64 {
	var slopes []float64
	for i := range ys {
		for j := i + 1; j < len(ys); j++ {
			slopes = append(slopes, (ys[j]-ys[i])/float64(j-i))
		}
	}
	if len(slopes) == 0 {
		return 0
	}
	slices.Sort(slopes)
	mid := len(slopes) / 2
	if len(slopes)%2 == 1 {
		return slopes[mid]
	}
	return (slopes[mid-1] + slopes[mid]) / 2
}
