package minikafka

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/secret"
)

// Defaults of Config.
const (
	DefaultAddr            = "127.0.0.1:9092"
	DefaultPartitions      = 3
	DefaultMaxMessageBytes = 1 << 20
	// DefaultAutoCreatePartitions is Kafka's num.partitions default.
	DefaultAutoCreatePartitions = 1
	// DefaultMaxRequestBytes bounds a request frame: a produce request
	// carries up to one batch of MaxMessageBytes per partition it names,
	// so the limit leaves room for 16 of them.
	DefaultMaxRequestBytes = 16*DefaultMaxMessageBytes + requestHeadroom
	// DefaultRequestTimeout bounds receiving one request once it started
	// and writing one response.
	DefaultRequestTimeout = 30 * time.Second
)

// requestHeadroom is the room for request and batch headers above the
// record batches of a produce request.
const requestHeadroom = 64 << 10

// maxRequestBytesLimit is the highest MaxRequestBytes: Kafka's default
// socket.request.max.bytes.
const maxRequestBytesLimit = 100 << 20

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
	// Partitions is the partition count of Topics.
	Partitions int
	// Topics are created at start-up.
	Topics []string
	// AutoCreatePartitions is the partition count of topics created on
	// first use (Kafka's num.partitions, default 1).
	AutoCreatePartitions int
	// DisableAutoCreateTopics makes producing to an unknown topic fail with
	// UNKNOWN_TOPIC_OR_PARTITION, like a broker with
	// auto.create.topics.enable=false. Auto-creation is on by default; as in
	// Kafka, Metadata requests before v4 (which cannot say) allow it.
	DisableAutoCreateTopics bool
	// MaxMessageBytes is the broker's message.max.bytes: a produced record
	// batch larger than this is rejected with MESSAGE_TOO_LARGE.
	MaxMessageBytes int
	// MaxRequestBytes is the largest request frame read (Kafka's
	// socket.request.max.bytes): a larger, negative or malformed size
	// closes the connection before anything is allocated. Zero means
	// 16 * MaxMessageBytes + 64 KiB, at most 100 MiB.
	MaxRequestBytes int
	// MaxBufferedRequestBytes bounds the request bytes held across all
	// connections at once; a connection whose next frame does not fit
	// waits. Zero means 4 * MaxRequestBytes.
	MaxBufferedRequestBytes int64
	// RequestTimeout bounds receiving the rest of a request once its first
	// byte arrived, and writing a response; zero means 30 s.
	RequestTimeout time.Duration
	// Users are the SASL users clients must authenticate as (PLAIN,
	// SCRAM-SHA-256, SCRAM-SHA-512); empty leaves the broker open.
	Users []User
	// TLS, if not nil, makes the broker serve TLS only; it needs a
	// certificate.
	TLS *tls.Config
	// Logger receives the broker's warnings and errors; nil discards them.
	Logger *slog.Logger
}

// User is one SASL user of the broker.
type User struct {
	Mechanism string // kafka.SASLPlain, kafka.SASLSCRAMSHA256 or kafka.SASLSCRAMSHA512
	Name      string
	Password  secret.Secret
}

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	c.Addr = cmp.Or(c.Addr, DefaultAddr)
	c.Partitions = cmp.Or(c.Partitions, DefaultPartitions)
	c.AutoCreatePartitions = cmp.Or(c.AutoCreatePartitions, DefaultAutoCreatePartitions)
	c.MaxMessageBytes = cmp.Or(c.MaxMessageBytes, DefaultMaxMessageBytes)
	if c.MaxRequestBytes == 0 && c.MaxMessageBytes > 0 {
		c.MaxRequestBytes = min(16*c.MaxMessageBytes+requestHeadroom, maxRequestBytesLimit)
	}
	c.MaxBufferedRequestBytes = cmp.Or(c.MaxBufferedRequestBytes, 4*int64(c.MaxRequestBytes))
	c.RequestTimeout = cmp.Or(c.RequestTimeout, DefaultRequestTimeout)
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
	if c.AutoCreatePartitions < 1 || c.AutoCreatePartitions > 1<<15 {
		return fmt.Errorf("%w: AutoCreatePartitions %d outside 1..32768", ErrInvalidConfig, c.AutoCreatePartitions)
	}
	if c.MaxMessageBytes < 1 {
		return fmt.Errorf("%w: MaxMessageBytes %d < 1", ErrInvalidConfig, c.MaxMessageBytes)
	}
	if c.MaxRequestBytes < c.MaxMessageBytes+requestHeadroom || c.MaxRequestBytes > maxRequestBytesLimit {
		return fmt.Errorf("%w: MaxRequestBytes %d outside MaxMessageBytes + 64 KiB (%d) .. 100 MiB", ErrInvalidConfig, c.MaxRequestBytes, c.MaxMessageBytes+requestHeadroom)
	}
	if c.MaxBufferedRequestBytes < int64(c.MaxRequestBytes) {
		return fmt.Errorf("%w: MaxBufferedRequestBytes %d below MaxRequestBytes %d", ErrInvalidConfig, c.MaxBufferedRequestBytes, c.MaxRequestBytes)
	}
	if c.RequestTimeout <= 0 {
		return fmt.Errorf("%w: RequestTimeout %s not positive", ErrInvalidConfig, c.RequestTimeout)
	}
	for _, u := range c.Users {
		sasl := kafka.SASL{Mechanism: u.Mechanism, Username: u.Name, Password: u.Password}
		if err := sasl.Validate(); err != nil || u.Mechanism == "" {
			return fmt.Errorf("%w: SASL user %q: want a mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), a name and a password", ErrInvalidConfig, u.Name)
		}
	}
	if c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil {
		return fmt.Errorf("%w: TLS without a certificate", ErrInvalidConfig)
	}
	for _, t := range c.Topics {
		if !kafka.ValidTopic(t) {
			return fmt.Errorf("%w: topic %q: want 1-249 characters of [a-zA-Z0-9._-], not \".\" or \"..\"", ErrInvalidConfig, t)
		}
	}
	return nil
}
