package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// writeTable writes the report as Markdown.
func (r *report) writeTable(w io.Writer) {
	c := r.ceil
	fmt.Fprintf(w, "### Ceilings (bare driver loops in the bench process, %s each)\n\n", r.cfg.Ceiling)
	fmt.Fprintln(w, "| loop | rate | bench CPU s per 1k |")
	fmt.Fprintln(w, "|---|---:|---:|")
	fmt.Fprintf(w, "| gocqlx LOGGED BATCH orders + outbox_messages, %d workers | %s batches/s | %.3f |\n",
		storeWorkers, thousands(c.batchRate), 1000*c.batchCPU.Seconds()/float64(max(c.batches, 1)))
	fmt.Fprintf(w, "| sarama idempotent async producer, %d-byte values | %s records/s | %.3f |\n\n",
		c.recordBytes, thousands(c.recordRate), 1000*c.recordCPU.Seconds()/float64(max(c.records, 1)))

	fmt.Fprintln(w, "### Backlog drain (events waiting in the store when the relay starts)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| relay | events drained | events/s |")
	fmt.Fprintln(w, "|---|---:|---:|")
	for _, rr := range r.relays {
		fmt.Fprintf(w, "| %s | %s | %s |\n", rr.name, thousands(float64(rr.drained)), thousands(rr.drain))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "### Offered load (%s per step; commit-to-publish = event time to the bench's consumer)\n\n", r.cfg.Step)
	fmt.Fprintln(w, "| relay | offered/s | orders/s | events/s | p50 | p95 | p99 | node CPU s per 1k events | peak RSS MiB | unpublished | mode |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, rr := range append(r.relays[:len(r.relays):len(r.relays)], r.embedded) {
		for _, x := range rr.rows {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %.3f | %d | %d | %s |\n", x.relay, loadName(x.offered),
				thousands(x.orders), thousands(x.events), ms(x.p50), ms(x.p95), ms(x.p99), x.cpuPer1k, x.peakRSS/1024, x.missing, x.mode)
		}
	}
	fmt.Fprintln(w)
}

// summary holds the four figures of the last line.
type summary struct {
	relayNaive, e2eCeiling, cpuVsBare float64
	embeddedP99                       time.Duration
	embeddedRate                      int
}

func (r *report) summary() summary {
	s := summary{embeddedRate: r.cfg.EmbeddedRate}
	var cdc, naive relayResult
	for _, rr := range r.relays {
		switch rr.name {
		case "cdc":
			cdc = rr
		case "naive":
			naive = rr
		}
	}
	if naive.drain > 0 {
		s.relayNaive = cdc.drain / naive.drain
	}
	if len(cdc.rows) > 0 {
		best := cdc.best()
		if r.ceil.lower() > 0 {
			s.e2eCeiling = 100 * best.events / r.ceil.lower()
		}
		if bare := r.ceil.cpuPer1k(); bare > 0 {
			s.cpuVsBare = best.cpuPer1k / bare
		}
	}
	if len(r.embedded.rows) > 0 {
		s.embeddedP99 = r.embedded.rows[0].p99
	}
	return s
}

// String is the bench's last line.
func (s summary) String() string {
	return fmt.Sprintf("bench: relay/naive %.1fx, e2e/ceiling %.0f%%, cpu/event vs bare %.1fx, embedded p99 %d ms at %d/s",
		s.relayNaive, s.e2eCeiling, s.cpuVsBare, s.embeddedP99.Milliseconds(), s.embeddedRate)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// thousands formats v rounded, with commas.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
