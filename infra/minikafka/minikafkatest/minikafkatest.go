// Package minikafkatest reads back what tests published to a Kafka broker
// (the in-process minikafka or any other) through the real sarama client, at
// the end of the data path where records land in their topic.
package minikafkatest

import (
	"testing"

	"github.com/IBM/sarama"
)

// ReadTopic returns every record of topic from the oldest offset to the
// high-water mark read at the call, partition by partition. configure
// adjusts the client's config, e.g. with SASL settings.
func ReadTopic(tb testing.TB, addr, topic string, configure ...func(*sarama.Config)) []*sarama.ConsumerMessage {
	tb.Helper()
	conf := sarama.NewConfig()
	for _, f := range configure {
		f(conf)
	}
	client, err := sarama.NewClient([]string{addr}, conf)
	if err != nil {
		tb.Fatalf("sarama client to %s: %v", addr, err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		tb.Fatalf("sarama consumer: %v", err)
	}
	defer consumer.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		tb.Fatalf("partitions of %s: %v", topic, err)
	}
	var out []*sarama.ConsumerMessage
	for _, part := range parts {
		hw, err := client.GetOffset(topic, part, sarama.OffsetNewest)
		if err != nil {
			tb.Fatalf("high-water mark of %s/%d: %v", topic, part, err)
		}
		if hw == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, part, sarama.OffsetOldest)
		if err != nil {
			tb.Fatalf("consume %s/%d: %v", topic, part, err)
		}
		for m := range pc.Messages() {
			out = append(out, m)
			if m.Offset == hw-1 {
				break
			}
		}
		pc.Close()
	}
	return out
}
