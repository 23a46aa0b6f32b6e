package kafka

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Defaults of Config.
const (
	DefaultClientID      = "outbox-node"
	DefaultTopicTemplate = "{{event_type}}"
	// DefaultMaxMessageBytes is sarama's default, below the broker's 1 MiB
	// message.max.bytes: batches then always fit the broker, and a record
	// too large is rejected alone, client-side, rather than failing every
	// record of its batch with MESSAGE_TOO_LARGE.
	DefaultMaxMessageBytes = 1_000_000
	DefaultSendRetries     = 3
	DefaultRetryBackoff    = 100 * time.Millisecond
	DefaultTimeout         = 10 * time.Second
	DefaultDialTimeout     = 5 * time.Second
)

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid kafka config")

// Config configures the Producer. Brokers is required; zero fields take
// the defaults.
type Config struct {
	// Brokers are the bootstrap host:port addresses.
	Brokers []string
	// ClientID names the producer in broker logs and quotas.
	ClientID string
	// TopicTemplate builds the topic from the event: the placeholders
	// {{event_type}} and {{aggregate_type}} are replaced, e.g.
	// "orders.{{event_type}}". Default "{{event_type}}".
	TopicTemplate string
	// MaxMessageBytes is the largest record (and batch) sent. It is lowered
	// to fit the broker's message.max.bytes, read when the producer connects, so that
	// only a record too large by itself fails (per-topic overrides of
	// max.message.bytes are not read).
	MaxMessageBytes int
	// FlushMessages, FlushBytes and FlushFrequency are sarama's
	// Producer.Flush triggers. All zero (the default) sends as soon as the
	// connection is free: with one request in flight (idempotence) the
	// records arriving meanwhile form the next batch, which batches well
	// under load without adding latency when idle.
	FlushMessages  int
	FlushBytes     int
	FlushFrequency time.Duration
	// SendRetries is how often sarama itself resends a record on a
	// retriable broker error before reporting it (Producer.Retry.Max).
	SendRetries int
	// RetryBackoff is sarama's wait between those resends.
	RetryBackoff time.Duration
	// Timeout bounds one produce request (broker ack wait, socket read
	// and write), so a hung broker surfaces as an error.
	Timeout time.Duration
	// DialTimeout bounds connecting to a broker.
	DialTimeout time.Duration
	// Security is the SASL authentication and TLS of the connections.
	Security Security
	// Logger receives producer lifecycle logs; nil discards them.
	Logger *slog.Logger
}

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	c.ClientID = cmp.Or(c.ClientID, DefaultClientID)
	c.TopicTemplate = cmp.Or(c.TopicTemplate, DefaultTopicTemplate)
	c.MaxMessageBytes = cmp.Or(c.MaxMessageBytes, DefaultMaxMessageBytes)
	c.SendRetries = cmp.Or(c.SendRetries, DefaultSendRetries)
	c.RetryBackoff = cmp.Or(c.RetryBackoff, DefaultRetryBackoff)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.DialTimeout = cmp.Or(c.DialTimeout, DefaultDialTimeout)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%w: no brokers", ErrInvalidConfig)
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("%w: broker %q: %w", ErrInvalidConfig, b, err)
		}
	}
	if _, err := newTopicTemplate(c.TopicTemplate); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	switch {
	case c.MaxMessageBytes < 1:
		return fmt.Errorf("%w: MaxMessageBytes %d < 1", ErrInvalidConfig, c.MaxMessageBytes)
	case c.FlushMessages < 0 || c.FlushBytes < 0 || c.FlushFrequency < 0:
		return fmt.Errorf("%w: negative flush setting", ErrInvalidConfig)
	case c.SendRetries < 1:
		// The idempotent producer requires at least one retry.
		return fmt.Errorf("%w: SendRetries %d < 1", ErrInvalidConfig, c.SendRetries)
	case c.RetryBackoff < 0 || c.Timeout <= 0 || c.DialTimeout <= 0:
		return fmt.Errorf("%w: timeouts must be positive", ErrInvalidConfig)
	}
	return c.Security.Validate()
}
