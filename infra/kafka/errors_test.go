package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/IBM/sarama"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/resilience"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want kafka.Kind
	}{
		{sarama.ErrOutOfBrokers, kafka.KindUnavailable},
		{sarama.ErrNotConnected, kafka.KindUnavailable},
		{sarama.ErrLeaderNotAvailable, kafka.KindUnavailable},
		{sarama.ErrNotLeaderForPartition, kafka.KindUnavailable},
		{sarama.ErrNotEnoughReplicas, kafka.KindUnavailable},
		{sarama.ErrNotEnoughReplicasAfterAppend, kafka.KindUnavailable},
		{sarama.ErrRequestTimedOut, kafka.KindUnavailable},
		{sarama.ErrTopicAuthorizationFailed, kafka.KindUnavailable},
		{io.EOF, kafka.KindUnavailable},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, kafka.KindUnavailable},
		{fmt.Errorf("publish: %w", resilience.ErrOpen), kafka.KindUnavailable},
		{errors.New("something new"), kafka.KindUnavailable},
		{sarama.ErrMessageSizeTooLarge, kafka.KindPermanent},
		{sarama.ErrMessageSetSizeTooLarge, kafka.KindPermanent},
		{sarama.ErrInvalidTopic, kafka.KindPermanent},
		{sarama.ErrInvalidRecord, kafka.KindPermanent},
		{sarama.ErrUnknownTopicOrPartition, kafka.KindPermanent},
		{sarama.ConfigurationError("Attempt to produce message larger than configured Producer.MaxMessageBytes"), kafka.KindPermanent},
		{fmt.Errorf("map: %w", kafka.ErrInvalidEvent), kafka.KindPermanent},
		{context.Canceled, kafka.KindCanceled},
		{context.DeadlineExceeded, kafka.KindCanceled},
		{kafka.ErrClosed, kafka.KindCanceled},
		{&kafka.PublishError{Kind: kafka.KindPermanent, Err: io.EOF}, kafka.KindPermanent},
		{nil, 0},
	}
	for _, tt := range tests {
		got := kafka.Classify(tt.err)
		if got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
		if kafka.IsUnavailable(tt.err) != (tt.want == kafka.KindUnavailable) || kafka.IsPermanent(tt.err) != (tt.want == kafka.KindPermanent) {
			t.Errorf("%v: IsUnavailable/IsPermanent disagree with Classify", tt.err)
		}
	}
}
