package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"

	"github.com/outboxnode/outbox/infra/internal/outage"
)

// Bounds of the wait between connection attempts while no broker answers:
// it doubles from the first to the second.
const (
	reconnectMin = 500 * time.Millisecond
	reconnectMax = 10 * time.Second
)

// Connected reports whether the producer has reached a broker; it stays
// true from then on (sarama reconnects by itself after later outages, and
// those surface as KindUnavailable per record).
func (p *Producer) Connected() bool {
	select {
	case <-p.ready:
		return true
	default:
		return false
	}
}

// connect dials until a broker answers or Close is called; the first
// failure logs that the brokers are unreachable (the relay waits), the
// success that they are reachable and the producer connected. Close does not
// wait for a dial in progress: what it brings after Close is closed here.
func (p *Producer) connect(conf *sarama.Config, topicTemplate string) {
	delay := reconnectMin
	for attempt := 1; ; attempt++ {
		client, ap, err := p.dial(conf)
		adopted := err == nil && p.adopt(client, ap)
		if attempt == 1 {
			close(p.firstDial)
		}
		switch {
		case err == nil && !adopted:
			_ = ap.Close()
			_ = client.Close()
			return
		case err == nil:
			p.reach.OK()
			p.log.Info("kafka connected", slog.Any("brokers", p.brokers), slog.String("topic_template", topicTemplate), slog.Int("attempts", attempt))
			return
		default:
			p.reach.Fail(err)
			p.log.Debug("kafka connection attempt failed", slog.Int("attempts", attempt), slog.Any("err", err))
		}
		t := time.NewTimer(delay)
		select {
		case <-p.closing:
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, reconnectMax)
	}
}

// adopt makes ap and the check's client the producer's unless Close came
// first, and starts the periodic check.
func (p *Producer) adopt(client sarama.Client, ap sarama.AsyncProducer) bool {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	if p.closed {
		return false
	}
	p.client, p.ap = client, ap
	var ctx context.Context
	ctx, p.stopWatch = context.WithCancel(context.Background())
	go p.reach.Watch(ctx, outage.Interval, func(context.Context) error { return p.refresh() })
	go p.drain()
	close(p.ready)
	return true
}

// refresh is the brokers' periodic check: a metadata request, which sees
// them lost while no record is sent (the breaker open, no events) and sees
// them back before the breaker's next trial.
func (p *Producer) refresh() error {
	if err := p.client.RefreshMetadata(); err != nil {
		return fmt.Errorf("metadata from %v: %w", p.brokers, err)
	}
	return nil
}

// dial fits the record size to the broker's limit and creates the sarama
// producer, and the client of the periodic check: a client of its own, so
// that its metadata requests do not touch the producer's metadata; an
// error means no broker could be reached.
func (p *Producer) dial(conf *sarama.Config) (sarama.Client, sarama.AsyncProducer, error) {
	if err := p.fitBrokerLimit(p.brokers, conf); err != nil {
		return nil, nil, err
	}
	check := *conf
	check.ClientID += "-check"
	check.Metadata.Full = false
	check.Metadata.Retry.Max = 0
	client, err := sarama.NewClient(p.brokers, &check)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka client for %v: %w", p.brokers, err)
	}
	ap, err := sarama.NewAsyncProducer(p.brokers, conf)
	if err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("kafka producer for %v: %w", p.brokers, err)
	}
	return client, ap, nil
}

// errUnreachable marks a limit read that failed because no broker answered.
var errUnreachable = errors.New("no broker reachable")
