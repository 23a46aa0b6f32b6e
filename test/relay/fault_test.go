package relay

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/test/harness"
)

// TestStreamPanicMidStreamRestartsAndLosesNothing makes the cdcstream actor
// panic (outboxctl fault inject) while records flow: the coordinator
// restarts it (counted in actor_restarts_total), the new reader resumes
// from the checkpoint, every event arrives and duplicates stay within the
// in-flight window.
func TestStreamPanicMidStreamRestartsAndLosesNothing(t *testing.T) {
	bins := harness.Build(t)
	node := startNode(t, bins, "--enable-fault-injection", "--topic-template", oneTopic,
		"--cdc-in-flight", fmt.Sprint(inFlight), "--log-level", "warn")
	kafka := harness.Collect(t, node.Kafka, node.Topic(""))

	type result struct {
		acc []accepted
		err error
	}
	done := make(chan result, 1)
	go func() {
		acc, err := lifecycles(node.Remote, 300, 8)
		done <- result{acc, err}
	}()
	harness.Eventually(t, time.Minute, func() error {
		if n := len(kafka.All()); n < 200 {
			return fmt.Errorf("%d records so far", n)
		}
		return nil
	})
	if r := node.Ctl(t, "fault", "inject", "cdcstream"); r.Code != 0 {
		t.Fatalf("fault inject: exit %d: %s", r.Code, r.Stderr)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	acc := res.acc
	kafka.WaitEvents(t, 2*time.Minute, eventIDs(acc))
	dups := 0
	for _, rs := range kafka.ByEventID() {
		dups += len(rs) - 1
	}
	t.Logf("%d events, %d duplicates", len(acc), dups)
	if dups > inFlight {
		t.Errorf("%d duplicates, more than the in-flight window %d", dups, inFlight)
	}
	checkFirstOccurrenceOrder(t, kafka.All(), acc)
	body, _ := node.HTTPGet(t, "/metrics")
	if !strings.Contains(body, `actor_restarts_total{actor="coordinator/cdcstream"} 1`) {
		t.Errorf("cdcstream restart not counted:\n%s", grepLines(body, "actor_restarts_total"))
	}
	checkOneFailurePerFault(t, node, 1)
}

// checkOneFailurePerFault reads the node's supervision log: it must hold
// exactly faults failures, each the injected one of the cdcstream (a
// second failure after a restart, say a nil dereference in the new
// instance, would cost the restart budget twice per fault).
func checkOneFailurePerFault(t *testing.T, node *harness.Node, faults int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(node.DataDir, "supervision.log"))
	if err != nil {
		t.Fatalf("supervision log: %v", err)
	}
	var failures []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct{ Actor, Event, Reason string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("supervision log line %q: %v", line, err)
		}
		if e.Event == "failed" {
			failures = append(failures, e.Actor+": "+e.Reason)
		}
	}
	injected := 0
	for _, f := range failures {
		if f == "coordinator/cdcstream: injected fault in cdcstream" {
			injected++
		}
	}
	if len(failures) != faults || injected != faults {
		t.Errorf("%d fault(s) injected, supervision log has %d failure(s):\n%s", faults, len(failures), strings.Join(failures, "\n"))
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
