package relay

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/test/harness"
)

// inFlight is the node's --cdc-in-flight in the restart test: the bound of
// events read but not checkpointed, so of duplicates after a crash.
const inFlight = 100

// clients is how many clients send orders at once in the restart tests.
const clients = 8

// TestCrashMidStreamResumesFromCheckpoint kills the node (SIGKILL) while
// orders keep coming and records flow, with the store and broker in their
// own process (devstack), then starts a new node on the same store: every
// committed event reaches Kafka, and the only duplicates are events of the
// in-flight window, carrying the same event_id and value.
func TestCrashMidStreamResumesFromCheckpoint(t *testing.T) {
	restartUnderLoad(t, func(t *testing.T, n *harness.Node) { n.Kill(t) }, inFlight)
}

// TestPollSourceCrashMidStreamResumesFromPosition is the crash test of the
// polling relay (--source poll): its saved position holds back, like the
// CDC checkpoint, every event not yet acknowledged. A position is a
// millisecond read again inclusively, so the events of its millisecond
// already published come again too: at most one per concurrent client.
func TestPollSourceCrashMidStreamResumesFromPosition(t *testing.T) {
	restartUnderLoad(t, func(t *testing.T, n *harness.Node) { n.Kill(t) }, inFlight+clients,
		"--source", "poll", "--scylla-timeout", "1s", "--poll-safety-lag", "1500ms")
}

// TestGracefulStopUnderLoadSavesProgress stops the node with SIGTERM while
// orders keep coming and records flow: it exits 0, having drained the
// batch in flight and saved the acknowledged progress, and the next node
// resumes from it. Duplicates remain possible within the window: a stream
// is checkpointed only up to its oldest unpublished event, and the
// publisher may have published later events of other aggregates.
func TestGracefulStopUnderLoadSavesProgress(t *testing.T) {
	restartUnderLoad(t, func(t *testing.T, n *harness.Node) {
		if code := n.Stop(t); code != 0 {
			t.Fatalf("node exited %d on SIGTERM; log:\n%s", code, n.Log())
		}
	}, inFlight)
}

// restartUnderLoad runs a node on devstack (store and broker in their own
// process) under a stream of orders, stops it with stop once records flow,
// starts a new node on the same store and checks that every committed
// event reached Kafka, and that duplicates are identical to the first copy
// and fewer than the in-flight window (the new node resumed from the
// checkpoint, not from the start): at most maxDups. extra flags are the
// nodes' own.
func restartUnderLoad(t *testing.T, stop func(*testing.T, *harness.Node), maxDups int, extra ...string) {
	bins := harness.Build(t)
	cql, broker := harness.StartDevstack(t, bins)
	flags := []string{"--scylla-hosts", cql, "--kafka-brokers", broker, "--migrate", "--consistency", "ONE",
		"--topic-template", oneTopic, "--cdc-in-flight", fmt.Sprint(inFlight), "--log-level", "warn"}
	flags = append(flags, extra...)
	first := startNode(t, bins, flags...)
	kafka := harness.Collect(t, broker, first.Topic(""))

	// Orders keep coming until the node stops under them.
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for i := w; ; i += clients {
				if _, err := lifecycle(first.Remote, i); err != nil {
					return
				}
			}
		})
	}
	harness.Eventually(t, time.Minute, func() error {
		if n := len(kafka.All()); n < 600 {
			return fmt.Errorf("%d records so far", n)
		}
		return nil
	})
	stop(t, first)
	wg.Wait()
	before := len(kafka.All())

	second := startNode(t, bins, flags...)
	runLifecycles(t, second.Remote, 50, clients)

	committed := outboxEventIDs(t, second.Session(t).Session, second.Keyspace)
	kafka.WaitEvents(t, 2*time.Minute, committed)
	records := kafka.ByEventID()
	dups := 0
	for id, rs := range records {
		for _, r := range rs[1:] {
			dups++
			if !bytes.Equal(r.Value, rs[0].Value) || r.Key != rs[0].Key {
				t.Errorf("duplicate of %s differs: %s vs %s", id, r.Value, rs[0].Value)
			}
		}
	}
	t.Logf("%d committed events, %d records before the stop, %d duplicates after it", len(committed), before, dups)
	if len(records) != len(committed) {
		t.Errorf("%d distinct events in Kafka, %d committed", len(records), len(committed))
	}
	if before <= inFlight {
		t.Fatalf("only %d records before the stop: the duplicate bound proves nothing", before)
	}
	if dups > maxDups {
		t.Errorf("%d duplicates, more than %d (the in-flight window %d and more): the node did not resume from its checkpoint", dups, maxDups, inFlight)
	}
}

// outboxEventIDs reads every committed event id from outbox_messages.
func outboxEventIDs(t *testing.T, s *gocql.Session, keyspace string) []string {
	t.Helper()
	var ids []string
	var id gocql.UUID
	iter := s.Query(`SELECT event_id FROM ` + keyspace + `.outbox_messages`).Iter()
	for iter.Scan(&id) {
		ids = append(ids, id.String())
	}
	if err := iter.Close(); err != nil {
		t.Fatalf("read outbox_messages: %v", err)
	}
	return ids
}
