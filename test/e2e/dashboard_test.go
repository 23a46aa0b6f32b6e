package e2e

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/outboxnode/outbox/test/harness"
	"github.com/outboxnode/outbox/test/monitoring"
)

// TestDashboardAndRulesMetricsExist drives a node until every labelled
// series has appeared (a published order, a rejected command, an actor
// restart, a refused remote RPC) and checks that every metric the alert
// rules and the Grafana dashboard read is on its /metrics, and that the
// limit gauges carry the node's flags. The cluster-mode series are checked
// on cluster members (TestClusterOfThreeNodesLosesNothingWhenOneIsKilled).
func TestDashboardAndRulesMetricsExist(t *testing.T) {
	rules, err := monitoring.RuleQueries(monitoring.Path(monitoring.RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	panels, err := monitoring.DashboardQueries(monitoring.Path(monitoring.DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string][]string{} // metric name -> where it is read
	for _, q := range append(rules, panels...) {
		for _, n := range monitoring.MetricNames(q.Expr) {
			if !slices.Contains(monitoring.ClusterSeries, n) {
				used[n] = append(used[n], q.Where)
			}
		}
	}

	bins := harness.Build(t)
	node := harness.StartNode(t, bins, "--enable-fault-injection", "--outbox-ttl", "2h", "--restart-budget", "7", "--restart-window", "90s")
	mustAccept(t, node, "order", "create", "--customer", "ivan", "--amount", "4.00")
	if r := node.Ctl(t, "order", "cancel", uuid.NewString()); r.Code != 1 {
		t.Fatalf("cancel of an unknown order: exit %d, want 1 (rejected)", r.Code)
	}
	mustAccept(t, node, "fault", "inject", "orders")
	refuseUnaryRPC(t, node.Remote)

	harness.Eventually(t, 60*time.Second, func() error {
		body, code := node.HTTPGet(t, "/metrics")
		if code != 200 {
			return fmt.Errorf("/metrics: %d", code)
		}
		families := metricTypes(body)
		var missing []string
		for name, where := range used {
			if !exported(families, name) {
				missing = append(missing, fmt.Sprintf("%s (read by %s)", name, strings.Join(where, "; ")))
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			return fmt.Errorf("/metrics lacks metrics the rules or the dashboard read:\n%s", strings.Join(missing, "\n"))
		}
		return nil
	})

	body, _ := node.HTTPGet(t, "/metrics")
	for _, want := range []string{
		"outbox_cdc_ttl_seconds 7200",
		"actor_restart_budget 7",
		"actor_restart_window_seconds 90",
	} {
		if !strings.Contains(body, "\n"+want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// refuseUnaryRPC calls a protoactor unary RPC the gateway refuses, so the
// node counts remote_rejected_total{reason="unimplemented"}.
func refuseUnaryRPC(t *testing.T, addr string) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = remote.NewRemotingClient(conn).ListProcesses(ctx, &remote.ListProcessesRequest{Pattern: "coordinator"})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("ListProcesses: %v, want Unimplemented", err)
	}
}

// metricTypes maps each metric family of a text exposition to its type,
// from its "# TYPE" line.
func metricTypes(body string) map[string]string {
	types := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
		}
	}
	return types
}

// exported reports whether a query may read name from a node: a family
// on /metrics, a histogram's _bucket, _sum or _count series, a summary's
// _sum or _count, or a series Prometheus adds to every scrape.
func exported(families map[string]string, name string) bool {
	if _, ok := families[name]; ok || slices.Contains(monitoring.ScrapeSeries, name) {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		switch families[base] {
		case "histogram":
			return true
		case "summary":
			return suffix != "_bucket"
		}
	}
	return false
}

func TestExportedNames(t *testing.T) {
	families := metricTypes("# HELP a_seconds x\n# TYPE a_seconds histogram\na_seconds_bucket{le=\"1\"} 0\n" +
		"# TYPE b summary\n# TYPE c_total counter\nc_total 1\n")
	for name, want := range map[string]bool{
		"a_seconds": true, "a_seconds_bucket": true, "a_seconds_sum": true, "a_seconds_count": true,
		"b_sum": true, "b_bucket": false, "c_total": true, "c_total_count": false, "c": false, "up": true, "d_total": false,
	} {
		if got := exported(families, name); got != want {
			t.Errorf("exported(%s) = %v, want %v", name, got, want)
		}
	}
}
