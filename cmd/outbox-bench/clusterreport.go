package main

import (
	"fmt"
	"io"
)

// write prints the tables and, last, the summary line.
func (r *clusterReport) write(w io.Writer) {
	r.writeTable(w)
	fmt.Fprintln(w, r.summary())
}

// writeTable writes the report as Markdown, in the style of the run's tables.
func (r *clusterReport) writeTable(w io.Writer) {
	fmt.Fprintf(w, "### Commands through the cluster (unpaced, %d clients, %s per step; round trip in the bench; "+
		"UpdateOrder on the orders the CreateOrder step made; CPU s per 1k commands; other cores: kept busy by processes not the bench's)\n\n", r.cfg.Clients, r.cfg.Step)
	fmt.Fprintln(w, "| members | K | command | commands/s | p50 | p95 | p99 | accepted | errors | node CPU | devstack CPU | bench CPU | other cores |")
	fmt.Fprintln(w, "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range r.commands {
		fmt.Fprintf(w, "| %d | %d | %s | %s | %s | %s | %s | %s | %d | %.3f | %.3f | %.3f | %.2f |\n", x.members, x.shards, x.command,
			thousands(x.rate), ms(x.p50), ms(x.p95), ms(x.p99), thousands(float64(x.accepted)), x.errs,
			x.cpu.node, x.cpu.devstack, x.cpu.bench, x.cpu.otherCores)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### Relay drain (backlog written to the K shard tables before the members start; "+
		"first to last arrival; CPU s per 1k records; other cores: kept busy by processes not the bench's)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| members | K | backlog | records drained | records/s | node CPU | devstack CPU | other cores |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range r.drains {
		fmt.Fprintf(w, "| %d | %d | %s | %s | %s | %.3f | %.3f | %.2f |\n", x.members, x.shards,
			thousands(float64(x.backlog)), thousands(float64(x.drained)), thousands(x.rate), x.cpu.node, x.cpu.devstack, x.cpu.otherCores)
	}
	fmt.Fprintln(w)
}

// summary is the last line: the one-member command rows and the drain
// ratio K=8/K=1 against their targets.
func (r *clusterReport) summary() string {
	s := "cluster: 1 member"
	met := true
	for _, x := range r.commands {
		if x.members != 1 {
			continue
		}
		s += fmt.Sprintf(" %s %s/s p99 %s,", x.command, thousands(x.rate), ms(x.p99))
		met = met && x.rate >= targetCommandRate && x.p99 < targetCommandP99
	}
	s += fmt.Sprintf(" target >= %s/s with p99 < %s: %s", thousands(targetCommandRate), ms(targetCommandP99), verdict(met))
	ratio, ok := r.drainRatio()
	if !ok {
		return s + "; drain K=8/K=1 not measured"
	}
	return s + fmt.Sprintf("; drain K=8/K=1 %.2f, target >= %.2f: %s", ratio, targetDrainRatio, verdict(ratio >= targetDrainRatio))
}

// drainRatio is the one-member drain rate with K=8 over the one with K=1.
func (r *clusterReport) drainRatio() (float64, bool) {
	var k1, k8 float64
	for _, x := range r.drains {
		switch x.drainSetup {
		case drainSetup{1, 1}:
			k1 = x.rate
		case drainSetup{1, clusterShards}:
			k8 = x.rate
		}
	}
	if k1 <= 0 {
		return 0, false
	}
	return k8 / k1, true
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "missed"
}
