// Package relay runs the relay's acceptance tests end to end: outbox-node
// (and devstack) as built binaries, commands over Proto.Actor remote,
// records read back with a sarama consumer, the store read with gocql.
package relay

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// startNode starts outbox-node (harness.StartNode) and logs its output
// when the test fails.
func startNode(t *testing.T, bins harness.Binaries, flags ...string) *harness.Node {
	t.Helper()
	n := harness.StartNode(t, bins, flags...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("outbox-node %s log:\n%s", n.Remote, n.Log())
		}
	})
	return n
}

// command sends msg to the node's coordinator and returns the acceptance,
// or an error for a rejection or a failed request.
func command(node string, msg proto.Message) (*messages.CommandAccepted, error) {
	res, err := harness.Client().Root.RequestFuture(actor.NewPID(node, "coordinator"), msg, 10*time.Second).Result()
	if err != nil {
		return nil, err
	}
	switch r := res.(type) {
	case *messages.CommandAccepted:
		return r, nil
	case *messages.CommandRejected:
		return nil, fmt.Errorf("rejected (%s): %s", r.GetCode(), r.GetReason())
	}
	return nil, fmt.Errorf("unexpected reply %T", res)
}

// accepted is one accepted command: its event and when the reply came.
type accepted struct {
	orderID, eventID string
	version          int32
	at               time.Time
}

// lifecycle creates an order, updates it and cancels it: three events,
// versions 1 to 3. A rejected follow-up command is tried too (it must
// write nothing). It stops at the first failure.
func lifecycle(node string, i int) ([]accepted, error) {
	var out []accepted
	a, err := command(node, &messages.CreateOrder{CustomerId: fmt.Sprintf("c-%d", i), Amount: "10.00", Currency: "EUR",
		Items: []*messages.Item{{Sku: "SKU-1", Quantity: 1}}})
	if err != nil {
		return out, err
	}
	out = append(out, accepted{a.GetOrderId(), a.GetEventId(), a.GetVersion(), time.Now()})
	amount := "12.50"
	for _, msg := range []proto.Message{
		&messages.UpdateOrder{OrderId: a.GetOrderId(), Amount: &amount},
		&messages.CancelOrder{OrderId: a.GetOrderId(), Reason: "test"},
	} {
		r, err := command(node, msg)
		if err != nil {
			return out, err
		}
		out = append(out, accepted{r.GetOrderId(), r.GetEventId(), r.GetVersion(), time.Now()})
	}
	if _, err := command(node, &messages.UpdateOrder{OrderId: a.GetOrderId(), Amount: &amount}); err == nil {
		return out, fmt.Errorf("update of cancelled order %s accepted", a.GetOrderId())
	}
	return out, nil
}

// runLifecycles runs n lifecycles over workers concurrent clients and
// returns every accepted command; any failure fails the test.
func runLifecycles(t *testing.T, node string, n, workers int) []accepted {
	t.Helper()
	all, err := lifecycles(node, n, workers)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// lifecycles runs n lifecycles over workers concurrent clients and returns
// every accepted command, and the first failure.
func lifecycles(node string, n, workers int) ([]accepted, error) {
	var (
		mu   sync.Mutex
		all  []accepted
		errs []error
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				got, err := lifecycle(node, i)
				mu.Lock()
				all = append(all, got...)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		return all, fmt.Errorf("%d lifecycles failed, first: %w", len(errs), errs[0])
	}
	return all, nil
}

// record is one consumed Kafka record.
type record struct {
	topic      string
	partition  int32
	offset     int64
	key        string
	headers    map[string]string
	value      []byte
	timestamp  time.Time
	receivedAt time.Time
}

// collector consumes every partition of some topics from the oldest offset.
type collector struct {
	consumer sarama.Consumer
	mu       sync.Mutex
	records  []record
	stop     chan struct{}
	wg       sync.WaitGroup
}

// collect starts consuming topics (waiting for each to exist) until cleanup.
func collect(t testing.TB, brokers string, topics ...string) *collector {
	t.Helper()
	conf := sarama.NewConfig()
	conf.Metadata.Retry.Backoff = 100 * time.Millisecond
	// Short fetch waits: receive times then measure the relay, not the consumer.
	conf.Consumer.MaxWaitTime = 10 * time.Millisecond
	consumer, err := sarama.NewConsumer([]string{brokers}, conf)
	if err != nil {
		t.Fatalf("kafka consumer: %v", err)
	}
	c := &collector{consumer: consumer, stop: make(chan struct{})}
	t.Cleanup(func() {
		close(c.stop)
		_ = consumer.Close()
		c.wg.Wait()
	})
	for _, topic := range topics {
		c.wg.Go(func() { c.consumeTopic(topic) })
	}
	return c
}

func (c *collector) consumeTopic(topic string) {
	var partitions []int32
	for len(partitions) == 0 {
		partitions, _ = c.consumer.Partitions(topic)
		select {
		case <-c.stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, p := range partitions {
		pc, err := c.consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			continue
		}
		c.wg.Go(func() {
			for {
				select {
				case <-c.stop:
					return
				case m, ok := <-pc.Messages():
					if !ok {
						return
					}
					c.add(m)
				}
			}
		})
	}
}

func (c *collector) add(m *sarama.ConsumerMessage) {
	h := make(map[string]string, len(m.Headers))
	for _, rh := range m.Headers {
		h[string(rh.Key)] = string(rh.Value)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, record{topic: m.Topic, partition: m.Partition, offset: m.Offset, key: string(m.Key),
		headers: h, value: m.Value, timestamp: m.Timestamp, receivedAt: time.Now()})
}

func (c *collector) all() []record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]record(nil), c.records...)
}

// byEventID indexes records by their event_id header.
func (c *collector) byEventID() map[string][]record {
	out := map[string][]record{}
	for _, r := range c.all() {
		out[r.headers["event_id"]] = append(out[r.headers["event_id"]], r)
	}
	return out
}

// waitEvents waits until every event id has at least one record.
func (c *collector) waitEvents(t testing.TB, timeout time.Duration, ids []string) {
	t.Helper()
	harness.Eventually(t, timeout, func() error {
		got := c.byEventID()
		missing := 0
		for _, id := range ids {
			if len(got[id]) == 0 {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d events not in Kafka", missing, len(ids))
		}
		return nil
	})
}

// metric reads one unlabelled sample from the node's /metrics.
func metric(t *testing.T, node *harness.Node, name string) float64 {
	t.Helper()
	body, code := node.HTTPGet(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}
