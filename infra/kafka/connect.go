package kafka

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"
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

// connect dials until a broker answers or Close is called, logging one
// line when it starts waiting and one when it connected. Close does not
// wait for a dial in progress: what it brings after Close is closed here.
func (p *Producer) connect(conf *sarama.Config, topicTemplate string) {
	delay := reconnectMin
	for attempt := 1; ; attempt++ {
		ap, err := p.dial(conf)
		adopted := err == nil && p.adopt(ap)
		if attempt == 1 {
			close(p.firstDial)
		}
		switch {
		case err == nil && !adopted:
			_ = ap.Close()
			return
		case err == nil:
			p.log.Info("kafka connected", slog.Any("brokers", p.brokers), slog.String("topic_template", topicTemplate), slog.Int("attempts", attempt))
			return
		case attempt == 1:
			p.log.Warn("kafka unreachable, relay waiting", slog.Any("brokers", p.brokers), slog.Any("err", err))
		default:
			p.log.Debug("kafka still unreachable", slog.Int("attempts", attempt), slog.Any("err", err))
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

// adopt makes ap the producer's unless Close came first.
func (p *Producer) adopt(ap sarama.AsyncProducer) bool {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	if p.closed {
		return false
	}
	p.ap = ap
	go p.drain()
	close(p.ready)
	return true
}

// dial fits the record size to the broker's limit and creates the sarama
// producer; an error means no broker could be reached.
func (p *Producer) dial(conf *sarama.Config) (sarama.AsyncProducer, error) {
	if err := p.fitBrokerLimit(p.brokers, conf); err != nil {
		return nil, err
	}
	ap, err := sarama.NewAsyncProducer(p.brokers, conf)
	if err != nil {
		return nil, fmt.Errorf("kafka producer for %v: %w", p.brokers, err)
	}
	return ap, nil
}

// errUnreachable marks a limit read that failed because no broker answered.
var errUnreachable = errors.New("no broker reachable")
