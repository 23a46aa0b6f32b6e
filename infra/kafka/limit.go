package kafka

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/IBM/sarama"
)

// batchOverhead is the record batch header (61 bytes) with margin: sarama
// fills a batch up to Producer.MaxMessageBytes of records and the broker
// measures records plus header against message.max.bytes.
const batchOverhead = 128

// brokerMessageMaxBytes asks a broker for its message.max.bytes.
func brokerMessageMaxBytes(brokers []string, conf *sarama.Config) (int, error) {
	admin, err := sarama.NewClusterAdmin(brokers, conf)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errUnreachable, err)
	}
	defer admin.Close()
	nodes, _, err := admin.DescribeCluster()
	if err != nil {
		return 0, err
	}
	if len(nodes) == 0 {
		return 0, fmt.Errorf("no brokers in cluster metadata")
	}
	results, err := admin.DescribeConfigs([]*sarama.ConfigResource{{
		Type:        sarama.BrokerResource,
		Name:        strconv.Itoa(int(nodes[0].ID())),
		ConfigNames: []string{"message.max.bytes"},
	}}, sarama.DescribeConfigsOptions{})
	if err != nil {
		return 0, err
	}
	for _, r := range results {
		if r.ErrorCode != sarama.ErrNoError {
			return 0, &sarama.DescribeConfigError{Err: r.ErrorCode, ErrMsg: r.ErrorMsg}
		}
		for _, e := range r.Configs {
			if e.Name == "message.max.bytes" {
				return strconv.Atoi(e.Value)
			}
		}
	}
	return 0, fmt.Errorf("broker did not report message.max.bytes")
}

// fitBrokerLimit lowers conf's Producer.MaxMessageBytes so that a full batch
// fits the broker's message.max.bytes. Above it, a batch of small records
// would be rejected whole with MESSAGE_TOO_LARGE, a permanent error, and
// every record in it dead-lettered. If no broker answers it returns the
// error (connect tries again later); if a broker answers but the limit
// cannot be read, the configured value stays.
func (p *Producer) fitBrokerLimit(brokers []string, conf *sarama.Config) error {
	limit, err := brokerMessageMaxBytes(brokers, conf)
	if errors.Is(err, errUnreachable) {
		return err
	}
	if err != nil {
		p.log.Warn("kafka: cannot read the broker's message.max.bytes; keeping MaxMessageBytes",
			"max_message_bytes", conf.Producer.MaxMessageBytes, "err", err)
		return nil
	}
	if fit := limit - batchOverhead; fit > 0 && conf.Producer.MaxMessageBytes > fit {
		p.log.Info("kafka: MaxMessageBytes lowered to fit the broker's message.max.bytes",
			"configured", conf.Producer.MaxMessageBytes, "broker_limit", limit, "max_message_bytes", fit)
		conf.Producer.MaxMessageBytes = fit
	}
	return nil
}
