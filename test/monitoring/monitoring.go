// Package monitoring reads the monitoring the repository ships for the
// node, the Prometheus alerting rules and the Grafana dashboard under
// infra/metrics, and lists the PromQL queries in them and the metric
// names those queries read, so tests can run promtool on them and check
// every name against a running node's /metrics.
package monitoring

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Files of the shipped monitoring, relative to the module root.
const (
	RulesFile     = "infra/metrics/prometheus/rules.yml"
	RulesTestFile = "infra/metrics/prometheus/rules_test.yml"
	DashboardFile = "infra/metrics/grafana/dashboards/outbox.json"
)

// DatasourceUID is the uid of the Prometheus datasource that
// infra/metrics/grafana/provisioning provisions and every panel names.
const DatasourceUID = "prometheus"

// ScrapeSeries are the series Prometheus itself adds to every scrape, so
// they are never on a node's /metrics although rules may read them.
var ScrapeSeries = []string{"up"}

// ClusterSeries are the series only a node in cluster mode exports (the
// per-shard ones); the dashboard reads them, and the cluster test checks
// them on its members rather than a lone node.
var ClusterSeries = []string{"outbox_shard_held", "outbox_shard_lag_seconds", "outbox_shard_events_processed_total"}

// Query is one PromQL expression and where it is (alert or panel).
type Query struct {
	Where string
	Expr  string
	// Alert is the alert's name for an alerting rule, empty otherwise.
	Alert string
}

// Path returns the absolute path of file (relative to the module root).
func Path(file string) string {
	_, self, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(self), "..", "..", file)
}

// RuleQueries returns the expression of every rule in the rules file at
// path, an error when it does not parse or a rule has no expression.
func RuleQueries(path string) ([]Query, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert  string `yaml:"alert"`
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		return nil, fmt.Errorf("parse rules %s: %w", path, err)
	}
	var qs []Query
	for _, g := range file.Groups {
		for i, r := range g.Rules {
			where := fmt.Sprintf("group %s rule %d %s%s", g.Name, i, r.Alert, r.Record)
			if strings.TrimSpace(r.Expr) == "" {
				return nil, fmt.Errorf("%s: no expr", where)
			}
			qs = append(qs, Query{Where: where, Expr: r.Expr, Alert: r.Alert})
		}
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("rules %s: no rules", path)
	}
	return qs, nil
}

// dashboard is the part of a Grafana dashboard model the checks read.
type dashboard struct {
	Panels []struct {
		ID         int    `json:"id"`
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// DashboardQueries returns the query of every panel target and query
// variable of the dashboard at path. It fails when the JSON does not
// parse, a panel does not name the Prometheus datasource by uid, or a
// panel has no target with an expression.
func DashboardQueries(path string) ([]Query, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dashboard: %w", err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("parse dashboard %s: %w", path, err)
	}
	if len(d.Panels) == 0 {
		return nil, fmt.Errorf("dashboard %s: no panels", path)
	}
	var qs []Query
	var errs []error
	for _, p := range d.Panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.Datasource == nil || p.Datasource.UID != DatasourceUID {
			errs = append(errs, fmt.Errorf("%s: datasource is not uid %q", where, DatasourceUID))
		}
		n := 0
		for _, t := range p.Targets {
			if strings.TrimSpace(t.Expr) == "" {
				continue
			}
			n++
			qs = append(qs, Query{Where: where + " target " + t.RefID, Expr: t.Expr})
		}
		if n == 0 {
			errs = append(errs, fmt.Errorf("%s: no target with an expr", where))
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, err := variableQuery(v.Query)
		if err != nil {
			errs = append(errs, fmt.Errorf("variable %s: %w", v.Name, err))
			continue
		}
		qs = append(qs, Query{Where: "variable " + v.Name, Expr: q})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", path, err)
	}
	return qs, nil
}

// variableQuery returns the series selector of a label_values(selector,
// label) variable query, given as a string or as {"query": ...}.
func variableQuery(raw json.RawMessage) (string, error) {
	var q string
	if err := json.Unmarshal(raw, &q); err != nil {
		var obj struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return "", fmt.Errorf("query is neither a string nor an object: %w", err)
		}
		q = obj.Query
	}
	inner, ok := strings.CutPrefix(strings.TrimSpace(q), "label_values(")
	comma := strings.LastIndex(inner, ",")
	if !ok || comma < 0 || !strings.HasSuffix(inner, ")") {
		return "", fmt.Errorf("query %q is not label_values(selector, label)", q)
	}
	return strings.TrimSpace(inner[:comma]), nil
}

// Keywords and aggregation operators of PromQL that are not followed by
// a parenthesis, and the modifiers whose parenthesised lists hold labels.
var (
	keywords = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
		"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	}
	labelLists = map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	}
)

// MetricNames returns the metric names expr selects, sorted and without
// duplicates: identifiers outside label matchers and strings that are not
// functions, keywords, grouping labels, numbers, durations or Grafana
// variables ($name). Names given as {__name__="..."} are not seen.
func MetricNames(expr string) []string {
	seen := map[string]bool{}
	braces := 0
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c == '{':
			braces++
			i++
		case c == '}':
			braces--
			i++
		case c == '$':
			i = skipIdent(expr, i+1)
		case isDigit(c) || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			end := skipIdent(expr, i)
			word := expr[i:end]
			next := end
			for next < len(expr) && (expr[next] == ' ' || expr[next] == '\t' || expr[next] == '\n') {
				next++
			}
			call := next < len(expr) && expr[next] == '('
			switch {
			case braces > 0:
				// a label name of a matcher
			case call && labelLists[word]:
				end = strings.IndexByte(expr[next:], ')')
				if end < 0 {
					return sorted(seen)
				}
				end += next + 1
			case call, keywords[strings.ToLower(word)]:
				// a function, an aggregation or a keyword
			default:
				seen[word] = true
			}
			i = end
		default:
			i++
		}
	}
	return sorted(seen)
}

func sorted(set map[string]bool) []string {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// skipString returns the index after the string literal opening at i.
func skipString(s string, i int) int {
	quote := s[i]
	for i++; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quote != '`':
			i++
		case s[i] == quote:
			return i + 1
		}
	}
	return i
}

func skipIdent(s string, i int) int {
	for i < len(s) && isIdent(s[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdent(c byte) bool { return isIdentStart(c) || isDigit(c) }
