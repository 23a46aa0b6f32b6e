package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/outboxnode/outbox/actors/health"
	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/messages"
)

// kafkaProbe checks that the brokers answer a metadata request. It keeps
// one sarama client, created on the first successful check, so a node that
// starts before its brokers still reports them once they are up.
type kafkaProbe struct {
	brokers  []string
	timeout  time.Duration
	security kafka.Security

	mu     sync.Mutex
	client sarama.Client
}

func newKafkaProbe(brokers []string, timeout time.Duration, security kafka.Security) *kafkaProbe {
	return &kafkaProbe{brokers: brokers, timeout: timeout, security: security}
}

var _ health.Probe = (*kafkaProbe)(nil)

// Name returns "kafka".
func (p *kafkaProbe) Name() string { return "kafka" }

// Check reports ok when a broker answered a metadata request within ctx.
func (p *kafkaProbe) Check(ctx context.Context) (messages.HealthStatus, string) {
	done := make(chan error, 1)
	go func() { done <- p.check() }()
	select {
	case err := <-done:
		if err != nil {
			return messages.HealthStatus_HEALTH_STATUS_DOWN, err.Error()
		}
		return messages.HealthStatus_HEALTH_STATUS_OK, fmt.Sprintf("brokers %v answered", p.brokers)
	case <-ctx.Done():
		return messages.HealthStatus_HEALTH_STATUS_DOWN, fmt.Sprintf("no metadata answer: %v", ctx.Err())
	}
}

// check runs under mu so concurrent probes share one client. A probe that
// times out leaves check to finish in the background; probes meanwhile fail
// at once instead of queueing goroutines behind a hung broker.
func (p *kafkaProbe) check() error {
	if !p.mu.TryLock() {
		return errors.New("previous metadata request still running")
	}
	defer p.mu.Unlock()
	if p.client == nil {
		cfg := sarama.NewConfig()
		cfg.ClientID = "outbox-node-health"
		cfg.Net.DialTimeout = p.timeout
		cfg.Net.ReadTimeout = p.timeout
		cfg.Net.WriteTimeout = p.timeout
		cfg.Metadata.Retry.Max = 0
		cfg.Metadata.Full = false
		if err := p.security.Apply(cfg); err != nil {
			return err
		}
		c, err := sarama.NewClient(p.brokers, cfg)
		if err != nil {
			return fmt.Errorf("brokers %v: %w", p.brokers, err)
		}
		p.client = c
	}
	if err := p.client.RefreshMetadata(); err != nil {
		return fmt.Errorf("brokers %v: %w", p.brokers, err)
	}
	return nil
}

// Close releases the client.
func (p *kafkaProbe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil {
		return nil
	}
	return p.client.Close()
}
