package e2e

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// TestServerTimestampsOnDevstackRelayEverything runs the node against a
// devstack store given as its single host, with server timestamps turned
// on: the default confidence window is then 10 ms, and every event that
// concurrent clients commit reaches Kafka.
func TestServerTimestampsOnDevstackRelayEverything(t *testing.T) {
	harness.EmbeddedOnly(t, "a 10 ms window is safe only on miniscylla, which stamps a write under the lock that makes it visible to CDC")
	const clients, ordersEach = 16, 25
	bins := harness.Build(t)
	cql, kafka := harness.StartDevstack(t, bins)
	node := harness.StartNode(t, bins, "--scylla-hosts", cql, "--kafka-brokers", kafka, "--migrate", "--consistency", "ONE",
		"--scylla-server-timestamps=true")
	// The node logs it before it is ready; the log is copied from its pipe a moment later.
	want := `msg="cdc reader" confidence_window=10ms server_timestamps=true`
	harness.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(node.Log(), want) {
			return fmt.Errorf("node log lacks %q:\n%s", want, node.Log())
		}
		return nil
	})
	records := harness.Collect(t, node.Kafka, node.Topic("OrderCreated"))

	coordinator := actor.NewPID(node.Remote, "coordinator")
	client := harness.Client()
	var (
		mu   sync.Mutex
		ids  []string
		errs []error
		wg   sync.WaitGroup
	)
	for range clients {
		wg.Go(func() {
			for range ordersEach {
				res, err := client.Root.RequestFuture(coordinator, &messages.CreateOrder{CustomerId: "stamps", Amount: "1.00", Currency: "EUR"}, 10*time.Second).Result()
				mu.Lock()
				if a, ok := res.(*messages.CommandAccepted); ok {
					ids = append(ids, a.GetEventId())
				} else {
					errs = append(errs, fmt.Errorf("reply %v, error %v", res, err))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%d of %d commands not accepted: %v", len(errs), clients*ordersEach, err)
	}
	records.WaitEvents(t, time.Minute, ids)
}
