package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// lastLine is the form the issue fixes for the bench's last line.
var lastLine = regexp.MustCompile(`^bench: relay/naive \d+\.\dx, e2e/ceiling \d+%, cpu/event vs bare \d+\.\dx, embedded p99 \d+ ms at \d+/s$`)

// TestRunQuickEndToEnd builds the three binaries and runs `outbox-bench run`
// with one small load and short steps: every relay gets a row with
// published events and latencies, and the output ends with the summary line.
func TestRunQuickEndToEnd(t *testing.T) {
	dir := t.TempDir()
	bins := map[string]string{}
	for _, pkg := range []string{"outbox-node", "devstack", "outbox-bench"} {
		bins[pkg] = filepath.Join(dir, pkg)
		cmd := exec.Command("go", "build", "-o", bins[pkg], "../"+pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	out := filepath.Join(dir, "results")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins["outbox-bench"], "run", "--node-bin", bins["outbox-node"], "--devstack-bin", bins["devstack"],
		"--loads", "200", "--step", "2s", "--ceiling", "1s", "--drain-timeout", "30s", "--embedded-rate", "200", "--out", out,
		// A window wide enough for a loaded machine: this test checks the bench, not how
		// small a window the relay survives (the run's unpublished column shows that).
		"--window", "2s")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("outbox-bench run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; !lastLine.MatchString(last) || !strings.HasSuffix(last, " at 200/s") {
		t.Errorf("last line %q does not match %s at 200/s", last, lastLine)
	}
	for _, relay := range []string{"naive", "cdc", "poll", "cdc-embedded"} {
		row := tableRow(lines, "| "+relay+" | 200 |")
		if row == nil {
			t.Errorf("no row for %s at 200/s in:\n%s", relay, stdout.String())
			continue
		}
		// orders/s, events/s and p99 are positive; nothing is unpublished.
		if row[2] == "0" || row[3] == "0" || row[6] == "0 ms" || row[9] != "0" {
			t.Errorf("%s row %q: want orders/s, events/s and p99 above zero and no unpublished event", relay, row)
		}
	}
	if !strings.Contains(stdout.String(), "batches/s") || !strings.Contains(stdout.String(), "records/s") {
		t.Errorf("no ceilings in:\n%s", stdout.String())
	}
	for _, f := range []string{"results.md", "latency.png", "cpu.png"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if strings.HasSuffix(f, ".png") && !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s is not a PNG", f)
		}
	}
}

// tableRow returns the cells of the first Markdown row starting with prefix.
func tableRow(lines []string, prefix string) []string {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			cells := strings.Split(strings.Trim(l, "|"), "|")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			return cells
		}
	}
	return nil
}

func TestGrowthDetector(t *testing.T) {
	gen := func(n int, f func(i int) float64) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = f(i)
		}
		return xs
	}
	// wobble is deterministic noise of amplitude a.
	wobble := func(i int, a float64) float64 { return a * float64((i*7)%5-2) / 2 }
	rss, goroutines, lag := limits[0], limits[1], limits[3]
	for _, tc := range []struct {
		name   string
		limit  limit
		xs     []float64
		growth bool
	}{
		{"flat rss with noise", rss, gen(60, func(i int) float64 { return 120 + wobble(i, 3) }), false},
		{"rss leaking 1 MiB per sample", rss, gen(60, func(i int) float64 { return 100 + float64(i) + wobble(i, 3) }), true},
		{"start-up ramp then flat", rss, gen(60, func(i int) float64 { return min(60+5*float64(i), 200) + wobble(i, 2) }), false},
		{"goroutines leaking 2 per sample", goroutines, gen(60, func(i int) float64 { return 80 + 2*float64(i) }), true},
		{"goroutines flat", goroutines, gen(60, func(i int) float64 { return 80 + wobble(i, 4) }), false},
		// The shape of a real soak here: samples that land on a burst of
		// in-flight requests, more of them late in the run by chance.
		{"goroutines flat with late bursts", goroutines, gen(60, func(i int) float64 {
			if slices.Contains([]int{37, 40, 49, 52, 55, 58}, i) {
				return 330
			}
			return 68 + wobble(i, 2)
		}), false},
		{"lag sawtooth under a second", lag, gen(60, func(i int) float64 { return float64(i%4) / 4 }), false},
		{"lag growing 100 ms per sample", lag, gen(60, func(i int) float64 { return 0.1 * float64(i) }), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rise, bound, err := tc.limit.check(tc.xs)
			if got := err != nil; got != tc.growth {
				t.Errorf("growth %v (rise %.2f, bound %.2f, err %v), want %v", got, rise, bound, err, tc.growth)
			}
		})
	}
	if _, _, err := rss.check([]float64{1, 2, 3, 4}); err == nil {
		t.Error("four samples passed: too few to judge a trend")
	}
}

// TestPaceStopsAfterCallsAndTimesEach checks the two things the cluster
// bench takes from pace: a step bounded by a number of calls makes exactly
// that many, and each committed call's round trip is kept beside its id.
func TestPaceStopsAfterCallsAndTimesEach(t *testing.T) {
	var n atomic.Int64
	op := func() (string, error) {
		i := n.Add(1)
		time.Sleep(2 * time.Millisecond)
		if i%10 == 0 {
			return "", errors.New("every tenth fails")
		}
		return strconv.FormatInt(i, 10), nil
	}
	for _, p := range []pacing{{d: time.Minute, workers: 8, calls: 200}, {rate: 2000, d: time.Minute, workers: 8, calls: 200}} {
		res := pace(context.Background(), p, op)
		n.Store(0)
		if got := int64(len(res.ids)) + res.errs; got != 200 {
			t.Errorf("%+v: %d calls (%d ok, %d errors), want 200", p, got, len(res.ids), res.errs)
		}
		if res.errs != 20 || res.lastErr == nil {
			t.Errorf("%+v: %d errors (last %v), want 20", p, res.errs, res.lastErr)
		}
		if len(res.lat) != len(res.ids) {
			t.Fatalf("%+v: %d latencies for %d ids", p, len(res.lat), len(res.ids))
		}
		for _, l := range res.lat {
			if l < 2*time.Millisecond || l > 5*time.Second {
				t.Fatalf("%+v: latency %s, want the op's 2 ms sleep or a little more", p, l)
			}
		}
		if res.elapsed >= time.Minute {
			t.Errorf("%+v: ran %s: the call bound did not end the step", p, res.elapsed)
		}
	}
	// Without a call bound the duration ends the step.
	res := pace(context.Background(), pacing{d: 50 * time.Millisecond, workers: 2}, op)
	if len(res.ids) == 0 || res.elapsed < 50*time.Millisecond || res.elapsed > 5*time.Second {
		t.Errorf("unbounded step: %d ids in %s, want some in about 50 ms", len(res.ids), res.elapsed)
	}
}
