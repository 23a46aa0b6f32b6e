package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/minikafka/minikafkatest"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/test/harness"
)

// TestProducerStartsWithoutBroker creates the producer while nothing
// listens on the broker address: New returns at once, records fail as
// unavailable (never permanent), and once a broker listens there the
// producer connects by itself and publishes. Each state change is logged
// once.
func TestProducerStartsWithoutBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs harness.SyncBuffer
	p := newProducer(t, kafka.Config{
		Brokers: []string{addr}, TopicTemplate: "lazy.{{event_type}}",
		DialTimeout: time.Second, Timeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, err := range p.Publish(ctx, events(3, 3, "OrderCreated")) {
		if !kafka.IsUnavailable(err) || !errors.Is(err, kafka.ErrNotConnected) {
			t.Fatalf("publish without a broker: %v, want unavailable (not connected)", err)
		}
	}
	if p.Connected() {
		t.Fatal("connected without a broker")
	}

	b, err := minikafka.Start(context.Background(), minikafka.Config{Addr: addr})
	if err != nil {
		t.Fatalf("start the broker late on %s: %v", addr, err)
	}
	t.Cleanup(b.Close)
	poll.Eventually(t, 60*time.Second, func() error {
		if !p.Connected() {
			return fmt.Errorf("not connected to the late broker; log:\n%s", logs.String())
		}
		return nil
	})
	evs := events(5, 5, "OrderCreated")
	requireAllNil(t, p.Publish(ctx, evs))
	if got := len(minikafkatest.ReadTopic(t, addr, "lazy.OrderCreated")); got != len(evs) {
		t.Errorf("topic holds %d records, want %d", got, len(evs))
	}
	log := logs.String()
	for _, line := range []string{`msg="kafka unreachable"`, `msg="kafka reachable"`, `msg="kafka connected"`} {
		if n := strings.Count(log, line); n != 1 {
			t.Errorf("%q logged %d times, want once; log:\n%s", line, n, log)
		}
	}
}

// TestCloseWhileWaitingForBroker closes a producer that never connected.
func TestCloseWhileWaitingForBroker(t *testing.T) {
	p, err := kafka.New(kafka.Config{Brokers: []string{"127.0.0.1:1"}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	closeWithin(t, p, "Close hung while the producer waited for a broker")
	for _, err := range p.Publish(context.Background(), events(1, 1, "OrderCreated")) {
		if !errors.Is(err, kafka.ErrClosed) {
			t.Errorf("publish after Close: %v, want ErrClosed", err)
		}
	}
}

// TestCloseDoesNotWaitForAHungDial closes the producer while its first
// dial waits on a broker that accepts connections but never answers.
func TestCloseDoesNotWaitForAHungDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	p, err := kafka.New(kafka.Config{Brokers: []string{ln.Addr().String()}, Timeout: 2 * time.Minute, DialTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	conn := <-accepted // the dial is in progress, its metadata request unanswered
	defer conn.Close()
	closeWithin(t, p, "Close waited for a dial that hangs")
}

// closeWithin closes p and fails with hung unless Close returns within
// 30 seconds.
func closeWithin(t *testing.T, p *kafka.Producer, hung string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal(hung)
	}
}
