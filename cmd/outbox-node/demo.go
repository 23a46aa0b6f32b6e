package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/messages"
)

// demoConcurrency is how many CreateOrder requests the demo keeps in flight.
const demoConcurrency = 16

// demo runs the demo on a started node, then shuts it down; it returns the
// exit code: 0 when every record arrived, 1 otherwise.
func (n *node) demo(ctx context.Context, count int, out io.Writer) int {
	code := 0
	if err := n.runDemo(ctx, count, out); err != nil {
		n.logger.Error("demo failed", "err", err)
		code = 1
	}
	if err := n.shutdown(); err != nil {
		n.logger.Error("shutdown incomplete", "err", err)
		code = 1
	}
	return code
}

// runDemo creates n orders through the coordinator (the real command path:
// orders actor, one LOGGED BATCH each), then reads their records back from
// Kafka with a sarama consumer and prints topic, key and version of each.
// It returns nil once every record arrived.
func (n *node) runDemo(ctx context.Context, count int, out io.Writer) error {
	start := time.Now()
	want, err := n.createDemoOrders(ctx, count)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "demo: %d orders created in %s; reading them back from Kafka\n", count, time.Since(start).Round(time.Millisecond))
	mapper, err := kafka.NewMapper(n.cfg.Relay.TopicTemplate)
	if err != nil {
		return err
	}
	topic := mapper.Topic(&messages.OutboxEvent{EventType: "OrderCreated", AggregateType: "order"})
	timeout := 30*time.Second + time.Duration(count)*20*time.Millisecond
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	records, err := consume(rctx, n.cfg.KafkaBrokers(), n.cfg.Kafka.Security, topic)
	if err != nil {
		return err
	}
	for len(want) > 0 {
		select {
		case <-rctx.Done():
			return fmt.Errorf("demo: %d of %d records missing after %s", len(want), count, timeout)
		case m := <-records:
			id := header(m, "event_id")
			if _, ok := want[id]; !ok {
				continue
			}
			delete(want, id)
			fmt.Fprintf(out, "record topic=%s key=%s version=%s partition=%d offset=%d\n",
				m.Topic, m.Key, header(m, "aggregate_version"), m.Partition, m.Offset)
		}
	}
	fmt.Fprintf(out, "demo: all %d records arrived in %s\n", count, time.Since(start).Round(time.Millisecond))
	return nil
}

// createDemoOrders sends count CreateOrder requests and returns the event
// ids of the accepted ones; any rejection fails the demo.
func (n *node) createDemoOrders(ctx context.Context, count int) (map[string]struct{}, error) {
	var (
		mu    sync.Mutex
		want  = make(map[string]struct{}, count)
		first error
		wg    sync.WaitGroup
		slots = make(chan struct{}, demoConcurrency)
	)
	for i := range count {
		if ctx.Err() != nil {
			break
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			id, err := n.createDemoOrder(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			want[id] = struct{}{}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	if first != nil {
		return nil, fmt.Errorf("demo: create orders: %w", first)
	}
	return want, nil
}

func (n *node) createDemoOrder(i int) (string, error) {
	req := &messages.CreateOrder{
		CustomerId: fmt.Sprintf("demo-customer-%d", i),
		Amount:     fmt.Sprintf("%d.%02d", 10+i%90, i%100),
		Currency:   "EUR",
		Items:      []*messages.Item{{Sku: fmt.Sprintf("SKU-%d", i%7), Quantity: int32(1 + i%3)}},
	}
	res, err := n.sys.Root.RequestFuture(n.coordinator, req, n.cfg.Node.RequestTimeout).Result()
	if err != nil {
		return "", err
	}
	switch r := res.(type) {
	case *messages.CommandAccepted:
		return r.GetEventId(), nil
	case *messages.CommandRejected:
		return "", fmt.Errorf("rejected (%s): %s", r.GetCode(), r.GetReason())
	}
	return "", fmt.Errorf("unexpected reply %T", res)
}

// consume reads every partition of topic from the oldest offset until ctx
// ends; the channel is never closed.
func consume(ctx context.Context, brokers []string, security kafka.Security, topic string) (<-chan *sarama.ConsumerMessage, error) {
	conf := sarama.NewConfig()
	conf.Consumer.Return.Errors = false
	if err := security.Apply(conf); err != nil {
		return nil, fmt.Errorf("demo: kafka consumer: %w", err)
	}
	c, err := sarama.NewConsumer(brokers, conf)
	if err != nil {
		return nil, fmt.Errorf("demo: kafka consumer: %w", err)
	}
	// The topic appears with its first record; wait for it.
	var partitions []int32
	for {
		if partitions, err = c.Partitions(topic); err == nil && len(partitions) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			c.Close()
			return nil, fmt.Errorf("demo: topic %s never appeared: %v", topic, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	out := make(chan *sarama.ConsumerMessage)
	for _, p := range partitions {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("demo: consume %s/%d: %w", topic, p, err)
		}
		go func() {
			for {
				select {
				case m, ok := <-pc.Messages():
					if !ok {
						return
					}
					select {
					case out <- m:
					case <-ctx.Done():
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	return out, nil
}

func header(m *sarama.ConsumerMessage, key string) string {
	for _, h := range m.Headers {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}
