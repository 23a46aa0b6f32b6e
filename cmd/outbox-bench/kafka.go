package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/outboxnode/outbox/infra/kafka"
)

// topicPartitions is the partition count of the topics the bench creates,
// the node's default on its embedded broker.
const topicPartitions = 3

// createTopics creates topics on brokers unless they exist.
func createTopics(brokers string, topics ...string) error {
	admin, err := sarama.NewClusterAdmin([]string{brokers}, sarama.NewConfig())
	if err != nil {
		return fmt.Errorf("kafka admin %s: %w", brokers, err)
	}
	defer admin.Close()
	for _, t := range topics {
		err := admin.CreateTopic(t, &sarama.TopicDetail{NumPartitions: topicPartitions, ReplicationFactor: 1}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	return nil
}

// arrival is when an event's first record reached the bench's consumer.
type arrival struct {
	occurred, received time.Time
}

// collector consumes every partition of some topics from the oldest offset
// and keeps the first arrival of each event id.
type collector struct {
	consumer sarama.Consumer
	wg       sync.WaitGroup
	cancel   context.CancelFunc

	mu       sync.Mutex
	byID     map[string]arrival
	received []time.Time // every record's arrival, duplicates included
}

// collect starts consuming topics on brokers, waiting up to a minute for
// each to have partitions.
func collect(ctx context.Context, brokers string, topics ...string) (*collector, error) {
	conf := sarama.NewConfig()
	conf.Metadata.Retry.Backoff = 100 * time.Millisecond
	// Short fetch waits: arrival times then measure the relay, not the consumer.
	conf.Consumer.MaxWaitTime = 10 * time.Millisecond
	consumer, err := sarama.NewConsumer([]string{brokers}, conf)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer %s: %w", brokers, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	c := &collector{consumer: consumer, cancel: cancel, byID: map[string]arrival{}}
	for _, topic := range topics {
		partitions, err := c.partitions(ctx, topic)
		if err != nil {
			c.close()
			return nil, err
		}
		for _, p := range partitions {
			pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
			if err != nil {
				c.close()
				return nil, fmt.Errorf("consume %s/%d: %w", topic, p, err)
			}
			c.wg.Go(func() {
				defer pc.Close()
				for {
					select {
					case <-ctx.Done():
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
	return c, nil
}

func (c *collector) partitions(ctx context.Context, topic string) ([]int32, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		ps, err := c.consumer.Partitions(topic)
		if err == nil && len(ps) > 0 {
			return ps, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("topic %s has no partitions after a minute: %v", topic, err)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func (c *collector) add(m *sarama.ConsumerMessage) {
	now := time.Now()
	var id string
	var occurred time.Time
	for _, h := range m.Headers {
		switch string(h.Key) {
		case kafka.HeaderEventID:
			id = string(h.Value)
		case kafka.HeaderOccurredAt:
			occurred, _ = time.Parse(time.RFC3339Nano, string(h.Value))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.received = append(c.received, now)
	if _, seen := c.byID[id]; !seen {
		c.byID[id] = arrival{occurred: occurred, received: now}
	}
}

func (c *collector) close() {
	c.cancel()
	_ = c.consumer.Close()
	c.wg.Wait()
}

// count is the number of records received so far.
func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.received)
}

// drainRate is the records per second between the first and the n-th
// arrival (or the last one, when fewer arrived): a relay's rate on a
// backlog, without its start-up.
func (c *collector) drainRate(n int) (rate float64, got int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	got = min(n, len(c.received))
	if got < 2 {
		return 0, got
	}
	span := c.received[got-1].Sub(c.received[0])
	if span <= 0 {
		return 0, got
	}
	return float64(got-1) / span.Seconds(), got
}

// waitCount waits until n records arrived, or no record arrived for quiet,
// or timeout passed; it returns how many arrived.
func (c *collector) waitCount(ctx context.Context, n int, quiet, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	last, lastChange := c.count(), time.Now()
	for {
		got := c.count()
		if got != last {
			last, lastChange = got, time.Now()
		}
		if got >= n || time.Since(lastChange) > quiet || time.Now().After(deadline) {
			return got
		}
		if sleepCtx(ctx, 20*time.Millisecond) != nil {
			return got
		}
	}
}

// waitIDs waits until every id arrived or timeout passed; it returns the
// arrivals of those that did.
func (c *collector) waitIDs(ctx context.Context, ids []string, timeout time.Duration) []arrival {
	deadline := time.Now().Add(timeout)
	for {
		got := c.arrivals(ids)
		if len(got) == len(ids) || time.Now().After(deadline) || sleepCtx(ctx, 20*time.Millisecond) != nil {
			return got
		}
	}
}

func (c *collector) arrivals(ids []string) []arrival {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]arrival, 0, len(ids))
	for _, id := range ids {
		if a, ok := c.byID[id]; ok {
			out = append(out, a)
		}
	}
	return out
}

// produceLoop is the broker ceiling: a bare sarama async producer, with the
// node's producer guarantees (idempotent, acks from all replicas), sends
// records for d, cycling through recs. It returns the acknowledged count.
func produceLoop(ctx context.Context, brokers string, recs []kafka.Record, d time.Duration) (acked int, elapsed time.Duration, err error) {
	conf := sarama.NewConfig()
	conf.Producer.Idempotent = true
	conf.Producer.RequiredAcks = sarama.WaitForAll
	conf.Producer.Return.Successes = true
	conf.Net.MaxOpenRequests = 1
	p, err := sarama.NewAsyncProducer([]string{brokers}, conf)
	if err != nil {
		return 0, 0, fmt.Errorf("bare producer: %w", err)
	}
	var failed error
	done := make(chan struct{})
	go func() {
		defer close(done)
		succ, errs := p.Successes(), p.Errors()
		for succ != nil || errs != nil {
			select {
			case _, ok := <-succ:
				if !ok {
					succ = nil
					continue
				}
				acked++
			case e, ok := <-errs:
				if !ok {
					errs = nil
					continue
				}
				failed = e.Err
			}
		}
	}()
	start := time.Now()
	for i := 0; time.Since(start) < d && ctx.Err() == nil; i++ {
		p.Input() <- saramaMessage(recs[i%len(recs)])
	}
	p.AsyncClose()
	<-done
	elapsed = time.Since(start)
	if failed != nil {
		return acked, elapsed, fmt.Errorf("bare producer: %w", failed)
	}
	return acked, elapsed, nil
}

// saramaMessage is r as the node's producer sends it.
func saramaMessage(r kafka.Record) *sarama.ProducerMessage {
	msg := &sarama.ProducerMessage{Topic: r.Topic, Key: sarama.ByteEncoder(r.Key), Value: sarama.ByteEncoder(r.Value), Timestamp: r.Timestamp}
	for _, h := range r.Headers {
		msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: []byte(h.Value)})
	}
	return msg
}
