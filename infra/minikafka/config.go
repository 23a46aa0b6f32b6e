package minikafka

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/outboxnode/outbox/infra/kafka"
)

// Defaults of Config.
const (
	DefaultAddr            = "127.0.0.1:9092"
	DefaultPartitions      = 3
	DefaultMaxMessageBytes = 1 << 20
)

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid minikafka config")

// Config describes the embedded broker. The zero value is usable.
type Config struct {
	// Addr is the host:port to listen on; port 0 picks a free port (read
	// it back with Broker.Addr).
	Addr string
	// AdvertisedAddr is the host:port clients are told to connect to in
	// metadata. Empty means Addr as bound, with 0.0.0.0 or :: as 127.0.0.1.
	AdvertisedAddr string
	// Partitions is the partition count of seeded and auto-created topics.
	Partitions int
	// Topics are created at start-up.
	Topics []string
	// DisableAutoCreateTopics makes producing to an unknown topic fail with
	// UNKNOWN_TOPIC_OR_PARTITION, like a broker with
	// auto.create.topics.enable=false. Auto-creation is on by default.
	DisableAutoCreateTopics bool
	// MaxMessageBytes is the broker's message.max.bytes: a produced record
	// batch larger than this is rejected with MESSAGE_TOO_LARGE.
	MaxMessageBytes int
	// Logger receives the broker's warnings and errors; nil discards them.
	Logger *slog.Logger
}

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	c.Addr = cmp.Or(c.Addr, DefaultAddr)
	c.Partitions = cmp.Or(c.Partitions, DefaultPartitions)
	c.MaxMessageBytes = cmp.Or(c.MaxMessageBytes, DefaultMaxMessageBytes)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("%w: Addr %q: %w", ErrInvalidConfig, c.Addr, err)
	}
	if c.AdvertisedAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdvertisedAddr); err != nil {
			return fmt.Errorf("%w: AdvertisedAddr %q: %w", ErrInvalidConfig, c.AdvertisedAddr, err)
		}
	}
	if c.Partitions < 1 || c.Partitions > 1<<15 {
		return fmt.Errorf("%w: Partitions %d outside 1..32768", ErrInvalidConfig, c.Partitions)
	}
	if c.MaxMessageBytes < 1 {
		return fmt.Errorf("%w: MaxMessageBytes %d < 1", ErrInvalidConfig, c.MaxMessageBytes)
	}
	for _, t := range c.Topics {
		if !kafka.ValidTopic(t) {
			return fmt.Errorf("%w: topic %q: want 1-249 characters of [a-zA-Z0-9._-], not \".\" or \"..\"", ErrInvalidConfig, t)
		}
	}
	return nil
}
