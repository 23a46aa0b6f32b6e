package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/messages"
)

// clusterFlags parses args as `outbox-bench cluster` does and returns the
// config its action would run.
func clusterFlags(t *testing.T, args ...string) clusterConfig {
	t.Helper()
	cmd := clusterCommand()
	var got clusterConfig
	cmd.Action = func(_ context.Context, c *cli.Command) error {
		got = clusterConfigOf(c)
		return nil
	}
	if err := cmd.Run(context.Background(), append([]string{"cluster"}, args...)); err != nil {
		t.Fatalf("cluster %v: %v", args, err)
	}
	return got
}

func TestClusterFlags(t *testing.T) {
	def := clusterFlags(t)
	want := clusterConfig{Nodes: 3, Step: 10 * time.Second, Clients: 64, Backlog: 100_000,
		DrainTimeout: DefaultDrainTimeout, Window: DefaultWindow, Bins: binaries{node: "bin/outbox-node", devstack: "bin/devstack"}}
	if def != want {
		t.Errorf("defaults %+v, want %+v", def, want)
	}
	if err := def.Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	got := clusterFlags(t, "--nodes", "5", "--step", "2s", "--clients", "32", "--backlog", "500", "--drain-timeout", "1m",
		"--window", "50ms", "--node-bin", "n", "--devstack-bin", "d")
	want = clusterConfig{Nodes: 5, Step: 2 * time.Second, Clients: 32, Backlog: 500, DrainTimeout: time.Minute,
		Window: 50 * time.Millisecond, Bins: binaries{node: "n", devstack: "d"}}
	if got != want {
		t.Errorf("flags %+v, want %+v", got, want)
	}
}

func TestClusterConfigValidate(t *testing.T) {
	valid := clusterConfig{Bins: binaries{node: "n", devstack: "d"}}
	valid.SetDefaults()
	for _, tc := range []struct {
		name   string
		change func(*clusterConfig)
		want   string // in the error; empty: valid
	}{
		{"defaults", func(*clusterConfig) {}, ""},
		{"one node", func(c *clusterConfig) { c.Nodes = 1 }, ""},
		{"no nodes", func(c *clusterConfig) { c.Nodes = -1 }, "nodes -1"},
		{"one event", func(c *clusterConfig) { c.Backlog = 1 }, "backlog 1"},
		{"negative step", func(c *clusterConfig) { c.Step = -time.Second }, "must be positive"},
		{"no clients", func(c *clusterConfig) { c.Clients = -3 }, "must be positive"},
		{"no devstack", func(c *clusterConfig) { c.Bins.devstack = "" }, "binaries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("invalid: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestClusterRowsPlanned(t *testing.T) {
	three := clusterConfig{Nodes: 3}
	if got := three.memberCounts(); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("member counts %v, want [1 3]", got)
	}
	if got, want := three.drains(), []drainSetup{{1, 1}, {1, 8}, {3, 8}}; !slices.Equal(got, want) {
		t.Errorf("drains %v, want %v", got, want)
	}
	// One node: the multi-member rows would repeat the one-member rows.
	one := clusterConfig{Nodes: 1}
	if got := one.memberCounts(); !slices.Equal(got, []int{1}) {
		t.Errorf("member counts %v, want [1]", got)
	}
	if got, want := one.drains(), []drainSetup{{1, 1}, {1, 8}}; !slices.Equal(got, want) {
		t.Errorf("drains %v, want %v", got, want)
	}
}

func TestClusterNodeArgs(t *testing.T) {
	addrs := []memberAddrs{{"127.0.0.1:7001", "127.0.0.1:7101"}, {"127.0.0.1:7002", "127.0.0.1:7102"}, {"127.0.0.1:7003", "127.0.0.1:7103"}}
	got := clusterNodeArgs(addrs, 1, 8)
	want := []string{"--cluster-name", "bench", "--cluster-addr", "127.0.0.1:7002",
		"--cluster-peers", "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003", "--cluster-remote-addr", "127.0.0.1:7102",
		"--outbox-shards", "8", "--topic-template", "cluster.{{aggregate_type}}"}
	if !slices.Equal(got, want) {
		t.Errorf("args\n%q\nwant\n%q", got, want)
	}
}

func TestFormed(t *testing.T) {
	members := []string{"a:1", "b:1"}
	report := func(alive []string, owners ...string) *messages.ClusterReport {
		r := &messages.ClusterReport{}
		for _, m := range alive {
			r.Members = append(r.Members, &messages.ClusterMember{Address: m, Status: "alive"})
		}
		for i, o := range owners {
			r.Shards = append(r.Shards, &messages.ShardStatus{Shard: int32(i), Owner: o})
		}
		return r
	}
	if err := formed(report([]string{"b:1", "a:1"}, "a:1", "b:1", "a:1"), members, 3); err != nil {
		t.Errorf("formed cluster: %v", err)
	}
	left := report([]string{"a:1"}, "a:1", "a:1", "a:1")
	left.Members = append(left.Members, &messages.ClusterMember{Address: "b:1", Status: "left"})
	expired := report(members, "a:1", "b:1", "a:1")
	expired.Shards[1].Expired = true
	for name, r := range map[string]*messages.ClusterReport{
		"a member missing":    report([]string{"a:1"}, "a:1", "a:1", "a:1"),
		"a member left":       left,
		"a stranger":          report([]string{"a:1", "b:1", "c:1"}, "a:1", "b:1", "a:1"),
		"a shard not listed":  report(members, "a:1", "b:1"),
		"a shard unowned":     report(members, "a:1", "", "b:1"),
		"a shard of another":  report(members, "a:1", "c:1", "b:1"),
		"an expired lease":    expired,
		"no members, no list": {},
	} {
		if err := formed(r, members, 3); err == nil {
			t.Errorf("%s: formed", name)
		}
	}
}

func TestCPUPer1k(t *testing.T) {
	at := time.Now()
	t0 := cpuTimes{node: time.Second, devstack: 2 * time.Second, bench: 3 * time.Second, machine: 10 * time.Second, at: at}
	// Over 2 s the bench's processes used 3.5 s of CPU and the machine 5.5 s: others kept one core busy.
	t1 := cpuTimes{node: 3 * time.Second, devstack: 3 * time.Second, bench: 3500 * time.Millisecond, machine: 15500 * time.Millisecond, at: at.Add(2 * time.Second)}
	if got, want := t1.per1k(t0, 4000), (cpuSplit{node: 0.5, devstack: 0.25, bench: 0.125, otherCores: 1}); got != want {
		t.Errorf("per1k %+v, want %+v", got, want)
	}
	// No operation: per one, not a division by zero.
	if got := t1.per1k(t0, 0); got.node != 2000 {
		t.Errorf("per1k of none: %+v, want the CPU used per one operation", got)
	}
	// The machine counter read before the processes' lagged: no negative cores.
	t1.machine = 12 * time.Second
	if got := t1.per1k(t0, 4000); got.otherCores != 0 {
		t.Errorf("other cores %v, want 0 when the machine shows less than the bench's processes", got.otherCores)
	}
}

func TestClusterReportTable(t *testing.T) {
	rep := &clusterReport{
		cfg: clusterConfig{Step: 10 * time.Second, Clients: 256},
		commands: []commandRow{
			{members: 1, shards: 8, command: "CreateOrder", rate: 6123.4, accepted: 61234, p50: 9 * time.Millisecond, p95: 20 * time.Millisecond, p99: 41 * time.Millisecond, cpu: cpuSplit{node: 0.1234, otherCores: 0.456}},
			{members: 1, shards: 8, command: "UpdateOrder", rate: 7000, accepted: 70000, p99: 30 * time.Millisecond},
			{members: 3, shards: 8, command: "CreateOrder", rate: 1500, accepted: 15000, errs: 4, p99: 300 * time.Millisecond},
		},
		drains: []drainRow{
			{drainSetup: drainSetup{1, 1}, backlog: 20000, drained: 20000, rate: 10000, cpu: cpuSplit{node: 0.05, devstack: 0.02, otherCores: 1.2}},
			{drainSetup: drainSetup{1, 8}, backlog: 20000, drained: 19990, rate: 8500},
			{drainSetup: drainSetup{3, 8}, backlog: 20000, drained: 20000, rate: 4000},
		},
	}
	var b bytes.Buffer
	rep.write(&b)
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	for prefix, want := range map[string][]string{
		"| 1 | 8 | CreateOrder |": {"1", "8", "CreateOrder", "6,123", "9 ms", "20 ms", "41 ms", "61,234", "0", "0.123", "0.000", "0.000", "0.46"},
		"| 3 | 8 | CreateOrder |": {"3", "8", "CreateOrder", "1,500", "0 ms", "0 ms", "300 ms", "15,000", "4", "0.000", "0.000", "0.000", "0.00"},
		"| 1 | 1 | 20,000 |":      {"1", "1", "20,000", "20,000", "10,000", "0.050", "0.020", "1.20"},
		"| 1 | 8 | 20,000 |":      {"1", "8", "20,000", "19,990", "8,500", "0.000", "0.000", "0.00"},
	} {
		if got := tableRow(lines, prefix); !slices.Equal(got, want) {
			t.Errorf("row %s: %q, want %q", prefix, got, want)
		}
	}
	if !strings.Contains(b.String(), "unpaced, 256 clients, 10s per step") {
		t.Errorf("no step settings in the commands heading:\n%s", b.String())
	}
	wantLast := "cluster: 1 member CreateOrder 6,123/s p99 41 ms, UpdateOrder 7,000/s p99 30 ms, " +
		"target >= 5,000/s with p99 < 50 ms: met; drain K=8/K=1 0.85, target >= 0.80: met"
	if last := lines[len(lines)-1]; last != wantLast {
		t.Errorf("last line\n%s\nwant\n%s", last, wantLast)
	}

	// A slow update or a slow K=8 drain misses its target; without a K=1 drain there is no ratio.
	rep.commands[1].p99 = 50 * time.Millisecond
	rep.drains[1].rate = 7900
	if s := rep.summary(); !strings.Contains(s, "p99 < 50 ms: missed") || !strings.HasSuffix(s, "drain K=8/K=1 0.79, target >= 0.80: missed") {
		t.Errorf("summary %q: want both targets missed", s)
	}
	rep.drains = rep.drains[1:]
	if s := rep.summary(); !strings.HasSuffix(s, "; drain K=8/K=1 not measured") {
		t.Errorf("summary %q: want the ratio not measured", s)
	}
}

func TestMachineCPU(t *testing.T) {
	t0, err := machineCPU()
	if err != nil {
		t.Fatal(err)
	}
	// Spin a little so the machine's busy time moves past a 10 ms tick.
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	t1, err := machineCPU()
	if err != nil {
		t.Fatal(err)
	}
	if t0 <= 0 || t1 <= t0 {
		t.Errorf("machine CPU %s then %s: want positive and growing while this test spins", t0, t1)
	}
}
