package monitoring

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// promtool runs promtool (Debian package prometheus, .ci/deps) and fails
// the test when it is missing or exits non-zero.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is required (apt-get install prometheus, see .ci/deps): %v", err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtoolCheckRules(t *testing.T) {
	out := promtool(t, "check", "rules", Path(RulesFile))
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules printed:\n%s", out)
	}
}

// TestPromtoolTestRules runs the alert unit tests, after checking that
// they show every alert of rules.yml both firing and not firing.
func TestPromtoolTestRules(t *testing.T) {
	rules, err := RuleQueries(Path(RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(Path(RulesTestFile))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			Cases []struct {
				Alert string `yaml:"alertname"`
				Exp   []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatalf("parse %s: %v", RulesTestFile, err)
	}
	if !slices.Equal(file.RuleFiles, []string{filepath.Base(RulesFile)}) {
		t.Errorf("rule_files = %v, want [%s]", file.RuleFiles, filepath.Base(RulesFile))
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tg := range file.Tests {
		for _, c := range tg.Cases {
			if len(c.Exp) > 0 {
				firing[c.Alert] = true
			} else {
				quiet[c.Alert] = true
			}
		}
	}
	alerts := 0
	for _, r := range rules {
		if r.Alert == "" {
			continue
		}
		alerts++
		if !firing[r.Alert] || !quiet[r.Alert] {
			t.Errorf("alert %s: tested firing %v, not firing %v; want both", r.Alert, firing[r.Alert], quiet[r.Alert])
		}
	}
	if alerts == 0 {
		t.Fatal("rules.yml has no alerts")
	}
	out := promtool(t, "test", "rules", Path(RulesTestFile))
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules printed:\n%s", out)
	}
}

// grafanaVars stands in for Grafana's template variables so that
// promtool can parse the dashboard's queries.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$instance", ".*")

// TestDashboardQueriesParse checks every dashboard query is valid PromQL
// by handing them to promtool as recording rules.
func TestDashboardQueriesParse(t *testing.T) {
	qs, err := DashboardQueries(Path(DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range qs {
		expr := grafanaVars.Replace(q.Expr)
		if strings.Contains(expr, "$") {
			t.Fatalf("%s: unknown template variable in %q", q.Where, q.Expr)
		}
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %q\n", i, expr)
	}
	path := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := promtool(t, "check", "rules", path)
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(qs)); !strings.Contains(out, want) {
		t.Fatalf("promtool check rules of the dashboard's queries printed:\n%s\nwant %q", out, want)
	}
}

func TestDashboardPanels(t *testing.T) {
	qs, err := DashboardQueries(Path(DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	panels := map[string]bool{}
	for _, q := range qs {
		panel, _, _ := strings.Cut(q.Where, " target ")
		panels[panel] = true
	}
	// the list: throughput by outcome, latency percentiles, lag
	// against the TTL, breaker, DLQ, restarts, commands and rejections
	for _, want := range []string{
		"outbox_commit_to_publish_seconds_count", "outbox_commit_to_publish_seconds_bucket", "cdc_events_processed_total",
		"cdc_lag_seconds", "outbox_cdc_ttl_seconds", "circuit_breaker_state", "dlq_messages_total",
		"actor_restarts_total", "actor_restart_budget", "outbox_commands_total", "remote_rejected_total",
		"outbox_shard_lag_seconds", "outbox_shard_events_processed_total", "outbox_shard_held",
	} {
		found := false
		for _, q := range qs {
			found = found || slices.Contains(MetricNames(q.Expr), want)
		}
		if !found {
			t.Errorf("no dashboard query reads %s", want)
		}
	}
	if len(panels) < 10 {
		t.Errorf("%d panels with queries, want at least 10", len(panels))
	}
}

// TestDashboardQueriesRejectBadPanels shows the dashboard check fails on
// a panel without the provisioned datasource or without a query.
func TestDashboardQueriesRejectBadPanels(t *testing.T) {
	for name, tc := range map[string]struct{ json, want string }{
		"not json":      {`{"panels": [`, "parse dashboard"},
		"no panels":     {`{"panels": []}`, "no panels"},
		"no datasource": {`{"panels": [{"id": 1, "title": "x", "targets": [{"refId": "A", "expr": "up"}]}]}`, `datasource is not uid "prometheus"`},
		"other uid": {`{"panels": [{"id": 1, "title": "x", "datasource": {"uid": "other"},
			"targets": [{"refId": "A", "expr": "up"}]}]}`, `datasource is not uid "prometheus"`},
		"no expr": {`{"panels": [{"id": 1, "title": "x", "datasource": {"uid": "prometheus"},
			"targets": [{"refId": "A", "expr": " "}]}]}`, "no target with an expr"},
		"bad variable": {`{"panels": [{"id": 1, "title": "x", "datasource": {"uid": "prometheus"}, "targets": [{"refId": "A", "expr": "up"}]}],
			"templating": {"list": [{"name": "v", "type": "query", "query": "up"}]}}`, "not label_values"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.json")
			if err := os.WriteFile(path, []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := DashboardQueries(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestVariableQuery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.json")
	doc := `{"panels": [{"id": 1, "title": "x", "datasource": {"uid": "prometheus"}, "targets": [{"refId": "A", "expr": "a_total"}]}],
		"templating": {"list": [{"name": "v", "type": "query", "query": {"query": "label_values(b_seconds{job=\"x\"}, instance)"}},
			{"name": "w", "type": "query", "query": "label_values(c_total, le)"}, {"name": "i", "type": "interval", "query": "1m,5m"}]}}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	qs, err := DashboardQueries(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range qs {
		got = append(got, q.Expr)
	}
	if want := []string{"a_total", `b_seconds{job="x"}`, "c_total"}; !slices.Equal(got, want) {
		t.Fatalf("queries %q, want %q", got, want)
	}
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`up{job="outbox-node"} == 0`: {"up"},
		`max by (job, instance) (cdc_lag_seconds) > on (job, instance) 0.5 * outbox_cdc_ttl_seconds`:                          {"cdc_lag_seconds", "outbox_cdc_ttl_seconds"},
		`histogram_quantile(0.99, sum by (le) (rate(x_seconds_bucket{instance=~"$instance", le!="+Inf"}[$__rate_interval])))`: {"x_seconds_bucket"},
		"sum by (a)\n  (rate(r_total[2m]))\n  * on (i) group_left w_seconds\n> on (i) group_left 0.5 * b":                     {"b", "r_total", "w_seconds"},
		`sum without (le) (a:rec:rate5m offset 5m) or vector(0) unless bool_total and count(c) > bool 1e3`:                    {"a:rec:rate5m", "bool_total", "c"},
		`label_replace(m{l="a \" b"}, "dst", "$1", "src", "(.*)") + Inf + NaN + 0x1f`:                                         {"m"},
		`sum(rate(m[5m] @ end())) / ignoring(x) group_right (y) n`:                                                            {"m", "n"},
		`42`: nil,
	} {
		got := MetricNames(expr)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("MetricNames(%q) = %q, want %q", expr, got, want)
		}
	}
}

// TestShippedQueriesNameMetrics guards the metric check itself: every
// shipped query reads at least one metric, and the names it finds are the
// names the node exports (infra/metrics) plus Prometheus' own series.
func TestShippedQueriesNameMetrics(t *testing.T) {
	rules, err := RuleQueries(Path(RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	panels, err := DashboardQueries(Path(DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	for _, q := range append(rules, panels...) {
		names := MetricNames(q.Expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", q.Where, q.Expr)
		}
		for _, n := range names {
			if !name.MatchString(n) {
				t.Errorf("%s: %q is not a metric name", q.Where, n)
			}
		}
	}
}

// TestProvisioning checks the Grafana provisioning files agree with the
// dashboard: the datasource uid it names and the directory it is mounted in.
func TestProvisioning(t *testing.T) {
	var ds struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	readYAML(t, "infra/metrics/grafana/provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].UID != DatasourceUID || ds.Datasources[0].Type != "prometheus" ||
		ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("datasources = %+v, want one prometheus with uid %q at http://prometheus:9090", ds.Datasources, DatasourceUID)
	}
	var prov struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "infra/metrics/grafana/provisioning/dashboards/outbox.yml", &prov)
	if len(prov.Providers) != 1 || prov.Providers[0].Type != "file" || prov.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("providers = %+v, want one file provider of /var/lib/grafana/dashboards", prov.Providers)
	}
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(Path(file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
}
