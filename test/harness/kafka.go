package harness

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// Record is one consumed Kafka record.
type Record struct {
	Topic      string
	Partition  int32
	Offset     int64
	Key        string
	Headers    map[string]string
	Value      []byte
	Timestamp  time.Time
	ReceivedAt time.Time
}

// Collector consumes every partition of some topics from the oldest offset
// with a sarama consumer and keeps every record.
type Collector struct {
	consumer sarama.Consumer
	mu       sync.Mutex
	records  []Record
	stop     chan struct{}
	wg       sync.WaitGroup
}

// Collect starts consuming topics (waiting for each to exist) until cleanup.
func Collect(t testing.TB, brokers string, topics ...string) *Collector {
	t.Helper()
	conf := sarama.NewConfig()
	conf.Metadata.Retry.Backoff = 100 * time.Millisecond
	// Short fetch waits: receive times then measure the relay, not the consumer.
	conf.Consumer.MaxWaitTime = 10 * time.Millisecond
	consumer, err := sarama.NewConsumer([]string{brokers}, conf)
	if err != nil {
		t.Fatalf("kafka consumer: %v", err)
	}
	c := &Collector{consumer: consumer, stop: make(chan struct{})}
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

func (c *Collector) consumeTopic(topic string) {
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

func (c *Collector) add(m *sarama.ConsumerMessage) {
	h := make(map[string]string, len(m.Headers))
	for _, rh := range m.Headers {
		h[string(rh.Key)] = string(rh.Value)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, Record{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: string(m.Key),
		Headers: h, Value: m.Value, Timestamp: m.Timestamp, ReceivedAt: time.Now()})
}

// All returns a copy of the records consumed so far.
func (c *Collector) All() []Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Record(nil), c.records...)
}

// ByEventID indexes the records by their event_id header.
func (c *Collector) ByEventID() map[string][]Record {
	out := map[string][]Record{}
	for _, r := range c.All() {
		out[r.Headers["event_id"]] = append(out[r.Headers["event_id"]], r)
	}
	return out
}

// Missing returns how many of the event ids have no record yet.
func (c *Collector) Missing(ids []string) int {
	got := c.ByEventID()
	missing := 0
	for _, id := range ids {
		if len(got[id]) == 0 {
			missing++
		}
	}
	return missing
}

// WaitEvents waits until every event id has at least one record.
func (c *Collector) WaitEvents(t testing.TB, timeout time.Duration, ids []string) {
	t.Helper()
	Eventually(t, timeout, func() error {
		if missing := c.Missing(ids); missing > 0 {
			return fmt.Errorf("%d of %d events not in Kafka", missing, len(ids))
		}
		return nil
	})
}
