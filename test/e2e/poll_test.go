package e2e

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// TestPollSourcePublishesEveryEventInOrder runs the node with the polling
// relay (--source poll): 100 orders x 3 commands, every event reaches
// Kafka exactly once, each order's versions 1, 2, 3 in partition order,
// and the lag is exported as cdc_lag_seconds{stream="poll"}. The safety
// lag is shortened with the store timeout it must exceed.
func TestPollSourcePublishesEveryEventInOrder(t *testing.T) {
	const orders, workers = 100, 8
	bins := harness.Build(t)
	node := harness.StartNode(t, bins, "--source", "poll", "--scylla-timeout", "1s", "--poll-safety-lag", "1500ms",
		"--poll-interval", "100ms", "--topic-template", "poll.{{aggregate_type}}")
	kafka := harness.Collect(t, node.Kafka, node.Topic(""))

	var (
		mu       sync.Mutex
		accepted = map[string]time.Time{} // event id -> when its command was accepted
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				a, err := harness.Command(node.Remote, &messages.CreateOrder{CustomerId: fmt.Sprintf("poll-%d", i), Amount: "5.00", Currency: "EUR",
					Items: []*messages.Item{{Sku: "SKU-1", Quantity: 1}}}, 10*time.Second)
				if err != nil {
					t.Errorf("create %d: %v", i, err)
					continue
				}
				acks := []*messages.CommandAccepted{a}
				amount := "6.00"
				for _, msg := range []proto.Message{
					&messages.UpdateOrder{OrderId: a.GetOrderId(), Amount: &amount},
					&messages.CancelOrder{OrderId: a.GetOrderId(), Reason: "test"},
				} {
					r, err := harness.Command(node.Remote, msg, 10*time.Second)
					if err != nil {
						t.Errorf("order %s: %v", a.GetOrderId(), err)
						break
					}
					acks = append(acks, r)
				}
				mu.Lock()
				for _, r := range acks {
					accepted[r.GetEventId()] = time.Now()
				}
				mu.Unlock()
			}
		})
	}
	for i := range orders {
		next <- i
	}
	close(next)
	wg.Wait()
	if t.Failed() {
		return
	}
	ids := make([]string, 0, len(accepted))
	for id := range accepted {
		ids = append(ids, id)
	}
	kafka.WaitEvents(t, time.Minute, ids)

	records := kafka.All()
	if len(records) != 3*orders {
		t.Errorf("%d records for %d events", len(records), 3*orders)
	}
	slices.SortFunc(records, func(a, b harness.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	versions := map[string][]string{}
	var delays []time.Duration
	for _, r := range records {
		versions[r.Key] = append(versions[r.Key], r.Headers["aggregate_version"])
		if at, ok := accepted[r.Headers["event_id"]]; ok {
			delays = append(delays, r.ReceivedAt.Sub(at))
		}
	}
	for key, vs := range versions {
		if !slices.Equal(vs, []string{"1", "2", "3"}) {
			t.Errorf("order %s: versions %v in partition order, want 1 2 3", key, vs)
		}
	}
	slices.Sort(delays)
	t.Logf("accept-to-consume with a 1.5s safety lag: p50 %s, max %s over %d events",
		delays[len(delays)/2].Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond), len(delays))

	body, _ := node.HTTPGet(t, "/metrics")
	lag := grepLines(body, `cdc_lag_seconds{stream="poll"}`)
	if v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(lag, `cdc_lag_seconds{stream="poll"}`)), 64); err != nil || v <= 0 {
		t.Errorf("poll lag metric %q: %v", lag, err)
	}
}
