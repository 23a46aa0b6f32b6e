package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/messages"
)

const metricsBody = `# TYPE cdc_events_processed_total counter
cdc_events_processed_total 42
# TYPE outbox_commands_total counter
outbox_commands_total{result="accepted",type="create"} 30
outbox_commands_total{result="accepted",type="get"} 5
outbox_commands_total{result="invalid_argument",type="create"} 3
outbox_commands_total{result="not_found",type="get"} 2
# TYPE dlq_messages_total counter
dlq_messages_total 4
# TYPE circuit_breaker_state gauge
circuit_breaker_state 1
# TYPE cdc_lag_seconds gauge
cdc_lag_seconds{stream="a"} 0.25
cdc_lag_seconds{stream="b"} 1.5
# TYPE outbox_commit_to_publish_seconds histogram
outbox_commit_to_publish_seconds_bucket{le="0.005"} 10
outbox_commit_to_publish_seconds_bucket{le="+Inf"} 38
outbox_commit_to_publish_seconds_sum 2.5
outbox_commit_to_publish_seconds_count 38
`

func f(v float64) *float64 { return &v }

func TestParseMetrics(t *testing.T) {
	var s snapshot
	if err := parseMetrics(strings.NewReader(metricsBody), &s); err != nil {
		t.Fatal(err)
	}
	if s.events != 42 || s.published != 38 || s.commands != 40 || s.rejected != 5 || s.dlqEntered != 4 {
		t.Fatalf("counters = %+v", s)
	}
	if s.lag == nil || *s.lag != 1.5 {
		t.Fatalf("lag = %v, want the largest stream's 1.5", s.lag)
	}
	if s.breaker != "open" {
		t.Fatalf("breaker = %q", s.breaker)
	}
}

func TestParseMetricsMissingSeries(t *testing.T) {
	var s snapshot
	if err := parseMetrics(strings.NewReader("# TYPE go_goroutines gauge\ngo_goroutines 7\n"), &s); err != nil {
		t.Fatal(err)
	}
	if s.lag != nil || s.breaker != "unknown" || s.commands != 0 {
		t.Fatalf("snapshot = %+v, want no lag, unknown breaker, zero counters", s)
	}
}

func TestParseMetricsBadBody(t *testing.T) {
	var s snapshot
	err := parseMetrics(strings.NewReader("cdc_events_processed_total not-a-number\n"), &s)
	if err == nil || !strings.Contains(err.Error(), "parse metrics") {
		t.Fatalf("err = %v, want a parse error", err)
	}
}

func TestBreakerName(t *testing.T) {
	for v, want := range map[float64]string{0: "closed", 1: "open", 2: "half-open", 7: "unknown(7)"} {
		if got := breakerName(v); got != want {
			t.Errorf("breakerName(%g) = %q, want %q", v, got, want)
		}
	}
}

func TestRates(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name                          string
		prev, cur                     snapshot
		published, events, cmds, rejs float64
	}{
		{"steady", snapshot{at: t0, published: 10, events: 10, commands: 4, rejected: 1},
			snapshot{at: t0.Add(2 * time.Second), published: 30, events: 34, commands: 24, rejected: 3}, 10, 12, 10, 1},
		{"idle", snapshot{at: t0, published: 5, events: 5, commands: 5},
			snapshot{at: t0.Add(time.Second), published: 5, events: 5, commands: 5}, 0, 0, 0, 0},
		{"node restarted: counters began again", snapshot{at: t0, published: 100, events: 100, commands: 50, rejected: 9},
			snapshot{at: t0.Add(time.Second), published: 3, events: 4, commands: 6, rejected: 1}, 3, 4, 6, 1},
		{"no time elapsed", snapshot{at: t0, commands: 1}, snapshot{at: t0, commands: 9}, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cur.breaker, tt.cur.dlqWaiting, tt.cur.lag = "closed", 2, f(0.5)
			v := rates(tt.prev, tt.cur)
			got := []float64{*v.PublishedPerSec, *v.EventsPerSec, *v.CommandsPerSec, *v.RejectedPerSec}
			want := []float64{tt.published, tt.events, tt.cmds, tt.rejs}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("rates published, events, commands, rejected = %v, want %v", got, want)
				}
			}
			if v.Breaker != "closed" || *v.DLQWaiting != 2 || *v.LagSeconds != 0.5 || !v.Time.Equal(tt.cur.at) {
				t.Fatalf("gauges = %+v", v)
			}
		})
	}
}

func TestWaiting(t *testing.T) {
	letters := []*messages.DeadLetter{
		{State: messages.DeadLetterState_DEAD_LETTER_STATE_DEAD},
		{State: messages.DeadLetterState_DEAD_LETTER_STATE_PARKED},
		{State: messages.DeadLetterState_DEAD_LETTER_STATE_PARKED},
		{State: messages.DeadLetterState_DEAD_LETTER_STATE_REPLAYED},
		{State: messages.DeadLetterState_DEAD_LETTER_STATE_SKIPPED},
	}
	if n := waiting(letters); n != 3 {
		t.Fatalf("waiting = %d, want 3 (dead or parked)", n)
	}
}

func TestScreen(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	n := 1
	ok := topView{Time: at, IntervalSeconds: 1, PublishedPerSec: f(12), EventsPerSec: f(12.5), CommandsPerSec: f(3),
		RejectedPerSec: f(0.25), LagSeconds: f(0.0125), Breaker: "closed", DLQWaiting: &n, DLQEnteredTotal: f(4)}
	failed := topView{Time: at, Breaker: "unknown", Error: "node 127.0.0.1:1 unreachable: refused"}
	tests := []struct {
		name     string
		scr      screen
		v        topView
		want     []string
		wantNone string
	}{
		{"line", screen{}, ok, []string{"03:04:05 published=12.0/s events=12.5/s commands=3.0/s rejected=0.2/s lag=0.013s breaker=closed dlq_waiting=1 dlq_entered_total=4\n"}, "\x1b"},
		{"line error", screen{}, failed, []string{`03:04:05 error="node 127.0.0.1:1 unreachable: refused"` + "\n"}, "\x1b"},
		{"terminal", screen{terminal: true, title: "outboxctl top"}, ok,
			[]string{clearHome + "outboxctl top\n\n", "circuit breaker      closed\n", "cdc lag              0.013s\n", "dlq waiting          1 dead or parked"}, "error"},
		{"terminal error", screen{terminal: true}, failed, []string{clearHome, "unreachable: refused"}, "breaker"},
		{"json on a terminal too", screen{json: true, terminal: true}, ok, []string{`"commands_per_sec":3,`, `"breaker":"closed"`}, "\x1b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			tt.scr.w = &out
			if err := tt.scr.show(tt.v); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Fatalf("output %q lacks %q", out.String(), w)
				}
			}
			if strings.Contains(out.String(), tt.wantNone) {
				t.Fatalf("output %q has %q", out.String(), tt.wantNone)
			}
		})
	}
}

// TestScreenJSONFields pins the -o json field names scripts rely on, and
// that a failed refresh keeps them all, as null.
func TestScreenJSONFields(t *testing.T) {
	fields := []string{"time", "interval_seconds", "published_per_sec", "events_per_sec", "commands_per_sec",
		"rejected_per_sec", "lag_seconds", "breaker", "dlq_waiting", "dlq_entered_total"}
	n := 0
	for _, v := range []topView{
		{Time: time.Now(), PublishedPerSec: f(1), EventsPerSec: f(1), CommandsPerSec: f(1), RejectedPerSec: f(0), LagSeconds: f(0), Breaker: "closed", DLQWaiting: &n, DLQEnteredTotal: f(0)},
		{Time: time.Now(), Breaker: "unknown", Error: "unreachable"},
	} {
		var out bytes.Buffer
		if err := (&screen{w: &out, json: true}).show(v); err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("json %q: %v", out.String(), err)
		}
		for _, k := range fields {
			if _, ok := doc[k]; !ok {
				t.Fatalf("json %q lacks %q", out.String(), k)
			}
		}
		if _, hasErr := doc["error"]; hasErr != (v.Error != "") {
			t.Fatalf("json %q: error present = %v", out.String(), hasErr)
		}
		if v.Error != "" && doc["commands_per_sec"] != nil {
			t.Fatalf("failed refresh json %q has a rate", out.String())
		}
	}
}
