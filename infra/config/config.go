// Package config holds the one configuration struct of outbox-node: every
// setting the binary wires into the store, the broker, the actors and the
// metrics server, with safe defaults (loopback addresses) and Validate.
// cmd/outbox-node is its only loader (see Load); other packages receive the
// parts they need as plain values.
package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/outboxnode/outbox/actors/publisher"
	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/secret"
	"github.com/outboxnode/outbox/infra/tracing"
)

// Config is the whole node configuration. The zero value is not usable:
// start from Default (or Load) and call Validate before use.
type Config struct {
	Scylla   Scylla
	Kafka    Kafka
	Embedded Embedded
	Node     Node
	Orders   Orders
	Relay    Relay
	Remote   RemoteTLS
	// Tracing exports OpenTelemetry spans when its endpoint is set.
	Tracing tracing.Config
}

// Scylla configures the store connection and the schema.
type Scylla struct {
	// Hosts are the ScyllaDB contact points; empty means "start the embedded
	// miniscylla on Embedded.CQLAddr and use it".
	Hosts []string
	// Keyspace holds orders, outbox_messages and dead_letter_queue.
	Keyspace string
	// Replication is the keyspace replication, used by the migration only.
	Replication Replication
	// Consistency is the consistency level of every read and write.
	Consistency string
	// Timeout bounds each query; ConnectTimeout each connection attempt.
	Timeout        time.Duration
	ConnectTimeout time.Duration
	// Migrate applies schema/ (idempotently) at start-up. Nil means "on in
	// embedded mode, off against a real cluster".
	Migrate *bool
	// OutboxTTL bounds outbox_messages (table TTL) and its CDC log.
	OutboxTTL time.Duration
	// ServerTimestamps leaves each write's timestamp to the store, which
	// takes it when the write applies. Not a flag: the node sets it for its
	// embedded store, where it makes a change's cdc$time the moment it
	// became visible, so the CDC reader can never skip a write that applied
	// late; a cluster keeps client timestamps (last write wins across
	// coordinators) and a confidence window sized for them.
	ServerTimestamps bool
	// Username and Password log in to a cluster running
	// PasswordAuthenticator; an empty Username logs in as nobody. In
	// embedded mode they also become the embedded server's only user.
	Username string
	Password secret.Secret
	// TLS encrypts the connections to the store when TLS.CAFile is set.
	TLS StoreTLS
}

// StoreTLS configures TLS to the store (PEM files).
type StoreTLS struct {
	// CAFile holds the CA(s) the servers' certificates must chain to; empty
	// disables TLS.
	CAFile string
	// CertFile and KeyFile are the client certificate, for servers that
	// require one (client_encryption_options.require_client_auth).
	CertFile string
	KeyFile  string
	// SkipHostVerification accepts a certificate issued for another host
	// name (the chain is still checked against CAFile).
	SkipHostVerification bool
}

// Enabled reports whether the store connection uses TLS.
func (t StoreTLS) Enabled() bool { return t.CAFile != "" }

// Replication is a keyspace replication strategy.
type Replication struct {
	// Strategy is SimpleStrategy (dev) or NetworkTopologyStrategy (prod).
	Strategy string
	// Factor is the replication factor of SimpleStrategy.
	Factor int
	// DataCenters maps data-centre name to replication factor for
	// NetworkTopologyStrategy.
	DataCenters map[string]int
	// Tablets is "auto" (or empty), "on" or "off". Auto leaves a
	// NetworkTopologyStrategy keyspace to the server's default (tablets on
	// ScyllaDB 2025.x) and gives a SimpleStrategy one vnodes, the only
	// layout SimpleStrategy supports. CDC runs on tablets from ScyllaDB
	// 2025.4; set "off" on older versions, whose CDC needs vnodes.
	Tablets string
}

// Replication strategies accepted by Validate.
const (
	SimpleStrategy          = "SimpleStrategy"
	NetworkTopologyStrategy = "NetworkTopologyStrategy"
)

// Kafka configures the broker connection.
type Kafka struct {
	// Brokers are the seed brokers; empty means "start the embedded
	// minikafka on Embedded.KafkaAddr and use it".
	Brokers []string
	// Security is the SASL authentication and TLS of the node's Kafka
	// connections. With the embedded broker, a SASL mechanism makes the
	// broker require that user (TLS applies to external brokers only).
	Security kafka.Security
	// SASLPasswordFile holds the SASL password (its first line); Load
	// reads it into Security.SASL.Password.
	SASLPasswordFile string
}

// Embedded configures the in-process store and broker used when no
// external hosts are given.
type Embedded struct {
	CQLAddr         string
	KafkaAddr       string
	KafkaPartitions int
	// Persist keeps the embedded store's data in <data-dir>/miniscylla (a
	// write-ahead log recovered at start); false keeps it in memory only.
	// The embedded broker is always in memory.
	Persist bool
	// WALRecovery is what a start does with damage in the middle of the
	// embedded store's write-ahead log: "strict" refuses to start,
	// "salvage" drops the damaged bytes and keeps every intact record.
	WALRecovery string
}

// Node configures the process itself.
type Node struct {
	// RemoteAddr is the host:port the Proto.Actor remote listens on and
	// advertises; clients must use exactly this string.
	RemoteAddr string
	// MetricsAddr serves /metrics and /health.
	MetricsAddr string
	// DataDir holds the supervision log and the embedded store's files.
	DataDir string
	// RequestTimeout bounds each request the node makes to its own actors
	// (e.g. the /health handler asking the Health actor).
	RequestTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown after SIGINT/SIGTERM.
	ShutdownTimeout time.Duration
	// RestartBudget restarts within RestartWindow are allowed per child of
	// the coordinator; exceeding it stops the node with a non-zero exit.
	RestartBudget int
	RestartWindow time.Duration
	// EnableFaultInjection lets clients send InjectFault (tests only).
	EnableFaultInjection bool
	// LogLevel is debug, info, warn or error.
	LogLevel string
}

// RemoteTLS secures the Proto.Actor remote with mutual TLS and names its
// admins. With no files set the remote is plaintext, and admin-only
// requests (DLQ replay/skip, fault injection) are accepted only while the
// remote listens on loopback.
type RemoteTLS struct {
	// CertFile and KeyFile are the node's certificate and key (PEM), used
	// when listening and when dialing clients back for replies; CAFile
	// signs every peer (client certificates are required and verified).
	CertFile, KeyFile, CAFile string
	// Admins are the common names (CN) of the client certificates allowed
	// admin-only requests.
	Admins []string
}

// Enabled says whether the remote uses TLS.
func (r RemoteTLS) Enabled() bool { return r.CertFile != "" || r.KeyFile != "" || r.CAFile != "" }

func (r RemoteTLS) validate(bad func(field, format string, args ...any)) {
	if r.Enabled() && (r.CertFile == "" || r.KeyFile == "" || r.CAFile == "") {
		bad("remote-tls", "--remote-tls-cert, --remote-tls-key and --remote-tls-ca go together")
	}
	if len(r.Admins) > 0 && !r.Enabled() {
		bad("remote-admin", "admin subjects need TLS (--remote-tls-cert, --remote-tls-key, --remote-tls-ca)")
	}
}

// Orders bounds what a command may carry.
type Orders struct {
	MaxItems          int
	MaxItemQuantity   int32
	MaxTotalCents     int64
	MaxCustomerLength int
	// IdleTimeout passivates per-order actors after this much inactivity.
	IdleTimeout time.Duration
}

// Relay configures the CDC -> Kafka relay: topic naming, and the retry
// policy and circuit breaker around each publish (docs/architecture.md,
// failure semantics). The CDC
// reader's settings (confidence window, poll delays, in-flight window, lag
// threshold) join here with the cdcstream actor.
type Relay struct {
	// TopicTemplate names each event's topic; {{event_type}} and
	// {{aggregate_type}} are replaced.
	TopicTemplate string
	// RetryAttempts counts every publish attempt, the first included;
	// backoff doubles from RetryBackoffMin up to RetryBackoffMax.
	RetryAttempts   int
	RetryBackoffMin time.Duration
	RetryBackoffMax time.Duration
	// BreakerFailures consecutive failures open the breaker for
	// BreakerOpenDelay; BreakerSuccesses half-open successes close it.
	BreakerFailures  uint
	BreakerOpenDelay time.Duration
	BreakerSuccesses uint
	// Publish tunes the publisher between the stream and Kafka.
	Publish Publish
	// CDC tunes the read side of the relay.
	CDC CDC
}

// Publish configures the publisher actor's batching, pausing and draining
// (actors/publisher.Config, whose defaults it starts from).
type Publish struct {
	// MaxBatch caps the events in one Kafka batch.
	MaxBatch int
	// Linger is how long an idle publisher waits for more events after the
	// first one before it publishes a partial batch.
	Linger time.Duration
	// PauseDelay is the wait before a paused batch is tried again, once the
	// retry policy gave up on the broker or the DLQ could not store an entry.
	PauseDelay time.Duration
	// DrainTimeout bounds how long a stop waits for the batch in flight, so
	// that its acks are checkpointed; it must be below Node.ShutdownTimeout.
	DrainTimeout time.Duration
}

// CDC configures the relay's read side: the CDC reader over
// outbox_messages (infra/cdc) and the stream actor (actors/cdcstream). The
// reader starts, without saved progress, one Scylla.OutboxTTL back (the CDC
// log TTL) and checkpoints in cdc_offsets.
type CDC struct {
	// ConfidenceWindow is the minimal age of a change before it is read,
	// the latency floor; 0 picks 500 ms on the embedded store and 5 s on a
	// real cluster (see CDCConfidenceWindow).
	ConfidenceWindow time.Duration
	// PollDelay follows a poll that returned rows, IdleDelay an empty one.
	PollDelay time.Duration
	IdleDelay time.Duration
	// InFlight bounds the events read but not yet checkpointed: the reader
	// blocks while it is full (also the bound of duplicates after a crash).
	// It must cover a few publish round trips at the target rate: each
	// batch takes at most one event per aggregate; on the embedded store a
	// window of 1,000 drained 29k events/s, 10,000 drained 76k
	// (the relay's backlog drain, as make bench measures it).
	InFlight int
	// ProgressInterval is how often acknowledged progress is saved.
	ProgressInterval time.Duration
	// LagShare of the CDC log TTL is the lag above which /health is
	// degraded and a warning gives the time left.
	LagShare float64
}

// CDCConfidenceWindow returns the configured confidence window, or the
// default for the store in use. A change's cdc$time is its write
// timestamp: a change applied later than the window after that timestamp
// is skipped by the reader. The node's embedded store stamps writes when
// they apply (Scylla.ServerTimestamps), so there no write can appear
// behind the reader and the window only sets how fresh a read is. With
// client timestamps a loaded machine can delay a request by hundreds of
// milliseconds, and a cluster adds replication and clock skew: 5 s.
func (c Config) CDCConfidenceWindow() time.Duration {
	switch {
	case c.Relay.CDC.ConfidenceWindow > 0:
		return c.Relay.CDC.ConfidenceWindow
	case c.EmbeddedScylla():
		return 500 * time.Millisecond
	}
	return 5 * time.Second
}

// Default returns the configuration used when nothing is set: embedded
// store and broker, everything bound to 127.0.0.1.
func Default() Config {
	return Config{
		Scylla: Scylla{
			Keyspace:       "orders_ks",
			Replication:    Replication{Strategy: SimpleStrategy, Factor: 1, Tablets: "auto"},
			Consistency:    "LOCAL_QUORUM",
			Timeout:        5 * time.Second,
			ConnectTimeout: 5 * time.Second,
			OutboxTTL:      24 * time.Hour,
		},
		Embedded: Embedded{
			CQLAddr:         "127.0.0.1:9042",
			KafkaAddr:       "127.0.0.1:9092",
			KafkaPartitions: 3,
			Persist:         true,
			WALRecovery:     "strict",
		},
		Node: Node{
			RemoteAddr:      "127.0.0.1:8090",
			MetricsAddr:     "127.0.0.1:9090",
			DataDir:         "./data",
			RequestTimeout:  5 * time.Second,
			ShutdownTimeout: 30 * time.Second,
			RestartBudget:   10,
			RestartWindow:   time.Minute,
			LogLevel:        "info",
		},
		Orders: Orders{
			MaxItems:          100,
			MaxItemQuantity:   10_000,
			MaxTotalCents:     100_000_000_00,
			MaxCustomerLength: 256,
			IdleTimeout:       5 * time.Minute,
		},
		Relay: Relay{
			TopicTemplate:    "{{event_type}}",
			RetryAttempts:    5,
			RetryBackoffMin:  100 * time.Millisecond,
			RetryBackoffMax:  500 * time.Millisecond,
			BreakerFailures:  5,
			BreakerOpenDelay: 30 * time.Second,
			BreakerSuccesses: 3,
			Publish: Publish{
				MaxBatch:     publisher.DefaultMaxBatch,
				Linger:       publisher.DefaultLinger,
				PauseDelay:   publisher.DefaultPauseDelay,
				DrainTimeout: publisher.DefaultDrainTimeout,
			},
			CDC: CDC{
				PollDelay:        10 * time.Millisecond,
				IdleDelay:        50 * time.Millisecond,
				InFlight:         10_000,
				ProgressInterval: 50 * time.Millisecond,
				LagShare:         0.5,
			},
		},
		Tracing: tracing.DefaultConfig(),
	}
}

// EmbeddedScylla reports whether the node runs its own miniscylla.
func (c Config) EmbeddedScylla() bool { return len(c.Scylla.Hosts) == 0 }

// EmbeddedKafka reports whether the node runs its own minikafka.
func (c Config) EmbeddedKafka() bool { return len(c.Kafka.Brokers) == 0 }

// ShouldMigrate reports whether the schema is applied at start-up.
func (c Config) ShouldMigrate() bool {
	if c.Scylla.Migrate != nil {
		return *c.Scylla.Migrate
	}
	return c.EmbeddedScylla()
}

// ScyllaHosts returns the contact points to dial: the configured hosts, or
// the embedded server's address.
func (c Config) ScyllaHosts() []string {
	if c.EmbeddedScylla() {
		return []string{c.Embedded.CQLAddr}
	}
	return c.Scylla.Hosts
}

// KafkaBrokers returns the brokers to dial: the configured ones, or the
// embedded broker's address.
func (c Config) KafkaBrokers() []string {
	if c.EmbeddedKafka() {
		return []string{c.Embedded.KafkaAddr}
	}
	return c.Kafka.Brokers
}

// InvalidError reports one bad setting.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string { return "config " + e.Field + ": " + e.Reason }

// Validate checks every setting and returns all problems joined, each an
// *InvalidError.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if err := c.Scylla.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, b := range c.Kafka.Brokers {
		hostPort(bad, "kafka-brokers", b)
	}
	if err := c.Kafka.Security.SASL.Validate(); err != nil {
		bad("kafka-sasl-mechanism", "%v", err)
	}
	if err := c.Kafka.Security.TLS.Validate(); err != nil {
		bad("kafka-tls-cert", "%v", err)
	}
	if c.EmbeddedKafka() && c.Kafka.Security.TLS.On() {
		bad("kafka-tls", "TLS needs --kafka-brokers: the embedded minikafka serves plaintext")
	}
	if c.EmbeddedScylla() {
		hostPort(bad, "embedded-cql-addr", c.Embedded.CQLAddr)
		if c.Embedded.WALRecovery != "strict" && c.Embedded.WALRecovery != "salvage" {
			bad("embedded-wal-recovery", "%q: want strict or salvage", c.Embedded.WALRecovery)
		}
		if c.Scylla.TLS.Enabled() {
			bad("scylla-tls-ca", "TLS applies to --scylla-hosts; the embedded store serves plain CQL")
		}
	}
	if c.EmbeddedKafka() {
		hostPort(bad, "embedded-kafka-addr", c.Embedded.KafkaAddr)
		atLeastOne(bad, "embedded-kafka-partitions", c.Embedded.KafkaPartitions)
	}
	hostPort(bad, "remote-addr", c.Node.RemoteAddr)
	hostPort(bad, "metrics-addr", c.Node.MetricsAddr)
	if c.Node.DataDir == "" {
		bad("data-dir", "must not be empty")
	}
	positive(bad, "request-timeout", c.Node.RequestTimeout)
	positive(bad, "shutdown-timeout", c.Node.ShutdownTimeout)
	positive(bad, "restart-window", c.Node.RestartWindow)
	if c.Node.RestartBudget < 0 {
		bad("restart-budget", "must be >= 0")
	}
	if _, ok := logLevels[c.Node.LogLevel]; !ok {
		bad("log-level", "want debug, info, warn or error, got %q", c.Node.LogLevel)
	}
	if c.Orders.MaxItems < 1 || c.Orders.MaxItemQuantity < 1 || c.Orders.MaxTotalCents < 1 || c.Orders.MaxCustomerLength < 1 {
		bad("orders", "limits must be >= 1")
	}
	positive(bad, "order-idle-timeout", c.Orders.IdleTimeout)
	c.Relay.validate(bad)
	c.Remote.validate(bad)
	if err := c.Tracing.Validate(); err != nil {
		bad("otel", "%v", err)
	}
	if c.Relay.Publish.DrainTimeout >= c.Node.ShutdownTimeout {
		bad("publish-drain-timeout", "%s is not below --shutdown-timeout %s", c.Relay.Publish.DrainTimeout, c.Node.ShutdownTimeout)
	}
	return errors.Join(errs...)
}

// Validate checks the store settings; the schema templates rely on it
// (keyspace and replication are spliced into CQL).
func (s Scylla) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if !isIdentifier(s.Keyspace) {
		bad("keyspace", "%q is not a lower-case CQL identifier ([a-z][a-z0-9_]{0,47})", s.Keyspace)
	}
	for _, h := range s.Hosts {
		if strings.TrimSpace(h) == "" {
			bad("scylla-hosts", "empty host in list")
		}
	}
	if _, ok := consistencies[strings.ToUpper(s.Consistency)]; !ok {
		bad("consistency", "unknown consistency %q", s.Consistency)
	}
	s.Replication.validate(bad)
	positive(bad, "scylla-timeout", s.Timeout)
	positive(bad, "scylla-connect-timeout", s.ConnectTimeout)
	if s.OutboxTTL < time.Second {
		bad("outbox-ttl", "must be at least 1s, got %s", s.OutboxTTL)
	}
	if (s.Username == "") != (s.Password == "") {
		bad("scylla-username", "a user name needs a password (--scylla-password-file or %s) and a password a user name", EnvScyllaPassword)
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		bad("scylla-tls-cert", "--scylla-tls-cert and --scylla-tls-key go together")
	}
	if s.TLS.CertFile != "" && !s.TLS.Enabled() {
		bad("scylla-tls-ca", "a client certificate needs --scylla-tls-ca")
	}
	return errors.Join(errs...)
}

func (r Relay) validate(bad func(field, format string, args ...any)) {
	if strings.TrimSpace(r.TopicTemplate) == "" {
		bad("topic-template", "must not be empty")
	}
	atLeastOne(bad, "retry-attempts", r.RetryAttempts)
	positive(bad, "retry-backoff-min", r.RetryBackoffMin)
	if r.RetryBackoffMax < r.RetryBackoffMin {
		bad("retry-backoff-max", "%s is below --retry-backoff-min %s", r.RetryBackoffMax, r.RetryBackoffMin)
	}
	if r.BreakerFailures < 1 || r.BreakerSuccesses < 1 {
		bad("breaker", "failure and success thresholds must be >= 1")
	}
	positive(bad, "breaker-open-delay", r.BreakerOpenDelay)
	r.Publish.validate(bad)
	r.CDC.validate(bad)
}

// validate requires every setting to be positive: the publisher reads a
// zero as "use the default", which would silently replace an explicit 0.
func (p Publish) validate(bad func(field, format string, args ...any)) {
	atLeastOne(bad, "publish-max-batch", p.MaxBatch)
	positive(bad, "publish-linger", p.Linger)
	positive(bad, "publish-pause-delay", p.PauseDelay)
	positive(bad, "publish-drain-timeout", p.DrainTimeout)
}

func (c CDC) validate(bad func(field, format string, args ...any)) {
	if c.ConfidenceWindow < 0 {
		bad("cdc-confidence-window", "must be >= 0 (0 picks the default), got %s", c.ConfidenceWindow)
	}
	positive(bad, "cdc-poll-delay", c.PollDelay)
	positive(bad, "cdc-idle-delay", c.IdleDelay)
	positive(bad, "cdc-progress-interval", c.ProgressInterval)
	atLeastOne(bad, "cdc-in-flight", c.InFlight)
	if c.LagShare <= 0 || c.LagShare > 1 {
		bad("cdc-lag-share", "must be in (0, 1], got %g", c.LagShare)
	}
}

func (r Replication) validate(bad func(field, format string, args ...any)) {
	if r.Tablets != "" && r.Tablets != "auto" && r.Tablets != "on" && r.Tablets != "off" {
		bad("tablets", "want auto, on or off, got %q", r.Tablets)
	}
	switch r.Strategy {
	case SimpleStrategy:
		if r.Factor < 1 {
			bad("replication", "SimpleStrategy needs a factor >= 1")
		}
		if r.Tablets == "on" {
			bad("tablets", "SimpleStrategy cannot use tablets: use NetworkTopologyStrategy (--replication dc:factor)")
		}
	case NetworkTopologyStrategy:
		if len(r.DataCenters) == 0 {
			bad("replication", "NetworkTopologyStrategy needs at least one dc:factor")
		}
		for dc, f := range r.DataCenters {
			if dc == "" || strings.ContainsAny(dc, "'\"") || f < 1 {
				bad("replication", "bad data centre %q:%d", dc, f)
			}
		}
	default:
		bad("replication", "unknown strategy %q", r.Strategy)
	}
}

// TabletsOption returns the CREATE KEYSPACE tablets map literal, or "" to
// leave the server's default. SimpleStrategy always gets vnodes
// explicitly: ScyllaDB 2025.x defaults to tablets and refuses them for
// SimpleStrategy.
func (r Replication) TabletsOption() string {
	switch {
	case r.Tablets == "on":
		return "{'enabled': true}"
	case r.Tablets == "off", r.Strategy == SimpleStrategy:
		return "{'enabled': false}"
	}
	return ""
}

// String renders the replication as the CQL map literal of CREATE KEYSPACE.
func (r Replication) String() string {
	if r.Strategy == NetworkTopologyStrategy {
		parts := []string{"'class': 'NetworkTopologyStrategy'"}
		for _, dc := range sortedKeys(r.DataCenters) {
			parts = append(parts, fmt.Sprintf("'%s': %d", dc, r.DataCenters[dc]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprintf("{'class': 'SimpleStrategy', 'replication_factor': %d}", r.Factor)
}

var consistencies = map[string]struct{}{
	"ANY": {}, "ONE": {}, "TWO": {}, "THREE": {}, "QUORUM": {}, "ALL": {},
	"LOCAL_QUORUM": {}, "EACH_QUORUM": {}, "LOCAL_ONE": {},
}

var logLevels = map[string]struct{}{"debug": {}, "info": {}, "warn": {}, "error": {}}

func atLeastOne(bad func(field, format string, args ...any), field string, n int) {
	if n < 1 {
		bad(field, "must be >= 1, got %d", n)
	}
}

func positive(bad func(field, format string, args ...any), field string, d time.Duration) {
	if d <= 0 {
		bad(field, "must be > 0, got %s", d)
	}
}

func hostPort(bad func(field, format string, args ...any), field, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		bad(field, "%q is not host:port: %v", addr, err)
		return
	}
	if host == "" {
		bad(field, "%q has no host (bind to an explicit address)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad(field, "%q has a bad port", addr)
	}
}

// isIdentifier accepts lower-case names only: unquoted CQL folds case, and
// gocql quotes the keyspace in USE, so "Orders" would name two keyspaces.
func isIdentifier(s string) bool {
	if s == "" || len(s) > 48 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
		case i > 0 && (r >= '0' && r <= '9' || r == '_'):
		default:
			return false
		}
	}
	return true
}
