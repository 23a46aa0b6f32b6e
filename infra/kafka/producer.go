// Package kafka is the relay's Kafka side: publisher actor -> Producer ->
// topic. It maps outbox events to records (Mapper), publishes batches over
// one idempotent sarama AsyncProducer with a per-record outcome (Producer),
// and classifies failures in one place (Classify, IsUnavailable,
// IsPermanent) so callers can retry, pause or dead-letter.
//
// The producer connects in the background (connect.go): a node starts, and
// takes commands, while its brokers are unreachable; until the first
// connection every record fails as KindUnavailable, so the relay pauses
// and nothing is dead-lettered for the broker's absence.
//
// The producer follows its brokers' reachability (infra/internal/outage):
// connection attempts, every record's outcome and a metadata request every
// few seconds once connected log one line when the brokers are lost and one
// when they are back, and Reachability reports it to the health actor
// without calling them.
//
// Recovery note: sarama keeps its own breaker per topic and partition
// (3 failed leader look-ups open it for 10 s, hard-coded), so after a broker
// outage records keep failing with "circuit breaker is open" for up to 10 s
// once the broker is back. Classify reports those as KindUnavailable; with
// the relay breaker's 30 s open delay the two never overlap in production,
// but tests with short delays must allow about 10 s for recovery.
package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/IBM/sarama"

	"github.com/outboxnode/outbox/actors/health"
	"github.com/outboxnode/outbox/infra/internal/outage"
	"github.com/outboxnode/outbox/messages"
)

// Producer publishes records with acks=all and idempotence, so a resend
// after a lost ack does not duplicate within a producer session. It is safe
// for concurrent use, but per-key order is the order records are handed
// over: concurrent Publish calls interleave, so publish one aggregate's
// events from one caller. Close releases it.
type Producer struct {
	mapper  *Mapper
	log     *slog.Logger
	brokers []string
	reach   *outage.Tracker
	// ap and client (the periodic check's) are set once, by connect under sendMu unless
	// closed, before ready is closed; read them only after ready.
	ap        sarama.AsyncProducer
	client    sarama.Client
	stopWatch context.CancelFunc
	ready     chan struct{}
	firstDial chan struct{} // closed once the first connection attempt ended

	closing   chan struct{} // closed first by Close: stops Publish sends
	closeOnce sync.Once
	sendMu    sync.RWMutex // Publish sends under RLock; Close closes Input under Lock
	closed    bool
	drained   chan struct{} // closed when both result channels are drained
}

// New validates cfg (after SetDefaults) and starts connecting to the
// brokers in the background; it never waits for them (see Connected).
func New(cfg Config) (*Producer, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mapper, err := NewMapper(cfg.TopicTemplate)
	if err != nil {
		return nil, err
	}
	conf := saramaConfig(cfg)
	if err := cfg.Security.Apply(conf); err != nil {
		return nil, err
	}
	p := &Producer{
		mapper: mapper, log: cfg.Logger, brokers: cfg.Brokers, reach: outage.New("kafka", cfg.Logger.With(slog.Any("brokers", cfg.Brokers))),
		ready: make(chan struct{}), firstDial: make(chan struct{}),
		closing: make(chan struct{}), drained: make(chan struct{}),
	}
	go p.connect(conf, cfg.TopicTemplate)
	return p, nil
}

func saramaConfig(cfg Config) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = cfg.ClientID
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Net.MaxOpenRequests = 1 // required by idempotence; keeps per-partition order
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.MaxMessageBytes = cfg.MaxMessageBytes
	c.Producer.Flush.Messages = cfg.FlushMessages
	c.Producer.Flush.Bytes = cfg.FlushBytes
	c.Producer.Flush.Frequency = cfg.FlushFrequency
	c.Producer.Retry.Max = cfg.SendRetries
	c.Producer.Retry.Backoff = cfg.RetryBackoff
	c.Producer.Timeout = cfg.Timeout
	c.Net.DialTimeout = cfg.DialTimeout
	c.Net.ReadTimeout = cfg.Timeout
	c.Net.WriteTimeout = cfg.Timeout
	c.Metadata.Retry.Backoff = cfg.RetryBackoff
	// Partition by a hash of the key (aggregate id): every event of one order
	// lands in one partition, in order. sarama hashes with FNV-1a, not the
	// Java client's murmur2, so partition numbers differ from a Java producer's.
	c.Producer.Partitioner = sarama.NewHashPartitioner
	return c
}

// Reachability is the brokers' health probe ("kafka"): down from the first
// failure to reach them until they answer again, with the time and the
// cause. It calls no broker, so a hung one cannot hold up the health answer.
func (p *Producer) Reachability() health.Probe { return p.reach }

// Topic returns the topic ev is published to.
func (p *Producer) Topic(ev *messages.OutboxEvent) string { return p.mapper.Topic(ev) }

// Publish maps and sends events as one batch and returns once each is
// acknowledged or failed: one error per event, in order, nil when Kafka
// acknowledged it, else a *PublishError. Events that cannot be mapped fail
// with KindPermanent without being sent. Mapping is interleaved with
// sending, so encoding overlaps with sarama's network work.
func (p *Producer) Publish(ctx context.Context, events []*messages.OutboxEvent) []error {
	return p.publish(ctx, len(events), func(i int) (Record, error) { return p.mapper.Record(events[i]) })
}

// PublishRecords sends records as one batch, like Publish.
func (p *Producer) PublishRecords(ctx context.Context, records []Record) []error {
	return p.publish(ctx, len(records), func(i int) (Record, error) { return records[i], nil })
}

// publish sends the n records that record(i) builds. If ctx ends or the
// producer closes first, the records still outstanding fail with
// KindCanceled although they may yet be delivered (at-least-once).
func (p *Producer) publish(ctx context.Context, n int, record func(int) (Record, error)) []error {
	b := newBatch(n)
	if sent := p.send(ctx, b, n, record); sent < n {
		// The records never handed to sarama fail now; those sent are
		// still awaited: Close flushes them, and ctx bounds the wait.
		cause := p.interrupted(ctx)
		for i := sent; i < n; i++ {
			b.resolve(i, &PublishError{Kind: Classify(cause), Topic: b.topic(i), Err: cause})
		}
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		b.abandon(ctx.Err())
	}
	return b.results()
}

// send hands the records to sarama and returns how many it went through.
func (p *Producer) send(ctx context.Context, b *batch, n int, record func(int) (Record, error)) int {
	// Right after New the first attempt may still run: wait for it, so a
	// live broker is used at once; once it failed, fail fast until one is.
	select {
	case <-p.firstDial:
	case <-ctx.Done():
		return 0
	case <-p.closing:
		return 0
	}
	p.sendMu.RLock()
	defer p.sendMu.RUnlock()
	if p.closed {
		return 0
	}
	if !p.Connected() {
		for i := range n {
			b.resolve(i, &PublishError{Kind: KindUnavailable, Err: fmt.Errorf("%w: brokers %v", ErrNotConnected, p.brokers)})
		}
		return n
	}
	for i := range n {
		r, err := record(i)
		if err != nil {
			b.resolve(i, err)
			continue
		}
		b.sending(i, r.Topic)
		select {
		case p.ap.Input() <- producerMessage(r, ticket{b, i}):
		case <-ctx.Done():
			return i
		case <-p.closing:
			return i
		}
	}
	return n
}

func (p *Producer) interrupted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return ErrClosed
}

func producerMessage(r Record, t ticket) *sarama.ProducerMessage {
	headers := make([]sarama.RecordHeader, len(r.Headers))
	for i, h := range r.Headers {
		headers[i] = sarama.RecordHeader{Key: []byte(h.Key), Value: []byte(h.Value)}
	}
	return &sarama.ProducerMessage{
		Topic:     r.Topic,
		Key:       sarama.ByteEncoder(r.Key),
		Value:     sarama.ByteEncoder(r.Value),
		Headers:   headers,
		Timestamp: r.Timestamp,
		Metadata:  t,
	}
}

// drain routes every ack and error to its batch; sarama deadlocks if either
// channel is left unread.
func (p *Producer) drain() {
	defer close(p.drained)
	succ, errs := p.ap.Successes(), p.ap.Errors()
	for succ != nil || errs != nil {
		select {
		case m, ok := <-succ:
			if !ok {
				succ = nil
				continue
			}
			p.reach.OK()
			t := m.Metadata.(ticket)
			t.b.resolve(t.i, nil)
		case pe, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			kind := Classify(pe.Err)
			if unreachable(pe.Err) {
				p.reach.Fail(pe.Err)
			}
			t := pe.Msg.Metadata.(ticket)
			t.b.resolve(t.i, &PublishError{Kind: kind, Topic: pe.Msg.Topic, Err: pe.Err})
		}
	}
}

// Close stops accepting records, waits until every record already handed
// to sarama is acknowledged or failed (their Publish calls return), and
// closes the connections. Publish after Close fails with ErrClosed.
func (p *Producer) Close() error {
	p.closeOnce.Do(func() {
		close(p.closing)
		p.sendMu.Lock()
		p.closed = true
		connected := p.Connected()
		p.sendMu.Unlock()
		// Not connected yet: connect sees closed and discards what it dials.
		if connected {
			p.stopWatch()
			p.ap.AsyncClose()
			<-p.drained
			_ = p.client.Close()
		}
		p.log.Info("kafka producer closed")
	})
	return nil
}
