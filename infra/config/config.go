// Package config holds the one configuration of outbox-node: the settings
// of the store, the broker, the embedded servers and the process, and the
// Config of each component the node wires (orders, coordinator, retry and
// breaker, publisher, CDC reader, stream), each with its own defaults and
// Validate. Flags binds all of it to the node's flags and OUTBOX_*
// environment variables; Load parses a command line with them.
// cmd/outbox-node is its only loader; other packages receive the parts they
// need as plain values.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/outboxnode/outbox/actors/cdcstream"
	"github.com/outboxnode/outbox/actors/coordinator"
	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/actors/publisher"
	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/logging"
	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/wal"
	"github.com/outboxnode/outbox/infra/outboxpoll"
	"github.com/outboxnode/outbox/infra/resilience"
	"github.com/outboxnode/outbox/infra/secret"
	"github.com/outboxnode/outbox/infra/tracing"
)

// Config is the whole node configuration. Start from Default (or Load) and
// call Validate before use. The composed component configs leave their
// wiring fields (the admission gate, OnFatal, the CDC keyspace and log TTL,
// ...) to the node, which fills them from the settings here.
type Config struct {
	Scylla   Scylla
	Kafka    Kafka
	Embedded Embedded
	Node     Node
	// Coordinator holds the restart budget and window and fault injection.
	Coordinator coordinator.Config
	// Orders bounds what a command may carry; StoreTimeout is Scylla.Timeout.
	Orders orders.Config
	Relay  Relay
	Remote RemoteTLS
	// Tracing exports OpenTelemetry spans when its endpoint is set.
	Tracing tracing.Config
	// Cluster, when named, makes the node a cluster member.
	Cluster Cluster
}

// Defaults of the node's own settings; the components' are in their
// packages.
const (
	DefaultKeyspace        = "orders_ks"
	DefaultConsistency     = "LOCAL_QUORUM"
	DefaultScyllaTimeout   = 5 * time.Second
	DefaultConnectTimeout  = 5 * time.Second
	DefaultOutboxTTL       = 24 * time.Hour
	DefaultTablets         = "auto"
	DefaultRemoteAddr      = "127.0.0.1:8090"
	DefaultMetricsAddr     = "127.0.0.1:9090"
	DefaultDataDir         = "./data"
	DefaultRequestTimeout  = 5 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
)

// Default returns the configuration used when nothing is set: embedded
// store (persistent) and broker, everything bound to 127.0.0.1.
func Default() Config {
	c := Config{Embedded: Embedded{Persist: true}}
	c.Coordinator.RestartBudget = coordinator.DefaultRestartBudget
	c.SetDefaults()
	return c
}

// SetDefaults fills zero fields with the defaults: the node's own above,
// each component's through its SetDefaults. Two settings whose zero is
// meaningful are left to Default: Embedded.Persist (false keeps the store
// in memory) and Coordinator.RestartBudget (0 allows no restart). The CDC
// confidence window's default follows the store in use
// (DefaultConfidenceWindow), so set Scylla.Hosts first.
func (c *Config) SetDefaults() {
	s := &c.Scylla
	s.Keyspace = cmp.Or(s.Keyspace, DefaultKeyspace)
	if s.Replication.Strategy == "" {
		s.Replication.Strategy, s.Replication.Factor = SimpleStrategy, 1
	}
	s.Replication.Tablets = cmp.Or(s.Replication.Tablets, DefaultTablets)
	s.Consistency = cmp.Or(s.Consistency, DefaultConsistency)
	s.Timeout = cmp.Or(s.Timeout, DefaultScyllaTimeout)
	s.ConnectTimeout = cmp.Or(s.ConnectTimeout, DefaultConnectTimeout)
	s.OutboxTTL = cmp.Or(s.OutboxTTL, DefaultOutboxTTL)

	e := &c.Embedded
	e.CQLAddr = cmp.Or(e.CQLAddr, miniscylla.DefaultAddr)
	e.KafkaAddr = cmp.Or(e.KafkaAddr, minikafka.DefaultAddr)
	e.KafkaPartitions = cmp.Or(e.KafkaPartitions, minikafka.DefaultPartitions)
	e.WALRecovery = cmp.Or(e.WALRecovery, string(wal.RecoveryStrict))

	n := &c.Node
	n.RemoteAddr = cmp.Or(n.RemoteAddr, DefaultRemoteAddr)
	n.MetricsAddr = cmp.Or(n.MetricsAddr, DefaultMetricsAddr)
	n.DataDir = cmp.Or(n.DataDir, DefaultDataDir)
	n.RequestTimeout = cmp.Or(n.RequestTimeout, DefaultRequestTimeout)
	n.ShutdownTimeout = cmp.Or(n.ShutdownTimeout, DefaultShutdownTimeout)
	n.LogLevel = cmp.Or(n.LogLevel, logging.DefaultLevel)

	c.Coordinator.SetDefaults()
	c.Orders.SetDefaults()
	c.Relay.TopicTemplate = cmp.Or(c.Relay.TopicTemplate, kafka.DefaultTopicTemplate)
	c.Relay.Retry.SetDefaults()
	c.Relay.Publish.SetDefaults()
	c.Relay.CDC.ConfidenceWindow = cmp.Or(c.Relay.CDC.ConfidenceWindow, c.DefaultConfidenceWindow())
	c.Relay.CDC.SetDefaults()
	c.Relay.Stream.SetDefaults()
	c.Relay.Source = cmp.Or(c.Relay.Source, SourceCDC)
	c.Relay.Poll.SetDefaults()
	c.Tracing.SetDefaults()
}

// DefaultConfidenceWindow is the CDC confidence window for the way the
// node's writes are stamped. A change's cdc$time is its write timestamp: a
// change applied later than the window after that timestamp is skipped by
// the reader. With server timestamps (Scylla.UseServerTimestamps) no write
// can appear behind the reader, so the window only covers the clock read
// between the reader and the store on one host; with client timestamps a
// loaded machine can delay a request by hundreds of milliseconds, and a
// cluster adds replication and clock skew.
func (c Config) DefaultConfidenceWindow() time.Duration {
	if c.Scylla.UseServerTimestamps() {
		return cdc.ServerTimestampsConfidenceWindow
	}
	return cdc.ClientTimestampsConfidenceWindow
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
	// OutboxShards is the number of outbox shard tables of cluster mode,
	// fixed when the schema is created; 0 (a node alone) creates none.
	OutboxShards int
	// ServerTimestamps leaves each write's timestamp to the store, which
	// takes it when the write applies, so a change's cdc$time is the moment
	// it became visible and the CDC reader can never skip a write that
	// applied late: the confidence window can be small. Only a single node
	// can do this (a cluster's coordinators stamp independently, and last
	// write wins needs the client's order). Nil means "on for the embedded
	// store, off when hosts are given" (see UseServerTimestamps).
	ServerTimestamps *bool
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

// MaxOutboxShards bounds --outbox-shards: each shard is a CDC table with
// its own reader, lease and checkpoints.
const MaxOutboxShards = 256

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
	// Pprof also serves net/http/pprof under /debug/pprof/ on MetricsAddr.
	Pprof bool
	// DataDir holds the supervision log and the embedded store's files.
	DataDir string
	// RequestTimeout bounds each request the node makes to its own actors
	// (e.g. the /health handler asking the Health actor).
	RequestTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown after SIGINT/SIGTERM.
	ShutdownTimeout time.Duration
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

// UseServerTimestamps reports whether the node's writes go without a
// timestamp, for the store to stamp at apply time.
func (s Scylla) UseServerTimestamps() bool {
	if s.ServerTimestamps != nil {
		return *s.ServerTimestamps
	}
	return len(s.Hosts) == 0
}

// Relay configures the CDC -> Kafka relay (docs/architecture.md, failure
// semantics): topic naming, the retry policy and circuit breaker around
// each publish, the publisher's batching, the CDC reader and the stream
// actor over it. The node sets the reader's keyspace, consistency and
// start (ChangeAgeLimit: one Scylla.OutboxTTL back, the CDC log TTL) and
// the stream's LogTTL from Scylla.
type Relay struct {
	// TopicTemplate names each event's topic; {{event_type}} and
	// {{aggregate_type}} are replaced.
	TopicTemplate string
	Retry         resilience.Config
	Publish       publisher.Config
	CDC           cdc.Config
	Stream        cdcstream.Config
	// Source is where the relay reads the outbox: SourceCDC (its CDC log,
	// read by CDC) or SourcePoll (scans of the table, read by Poll; the node
	// sets its keyspace, start and write timeout from Scylla and shares the
	// CDC reader's in-flight window and progress interval).
	Source string
	Poll   outboxpoll.Config
}

// Relay sources.
const (
	SourceCDC  = "cdc"
	SourcePoll = "poll"
)

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
		if _, err := wal.ParseRecovery(c.Embedded.WALRecovery); err != nil || c.Embedded.WALRecovery == "" {
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
	positive(bad, "restart-window", c.Coordinator.RestartWindow)
	if c.Coordinator.RestartBudget < 0 {
		bad("restart-budget", "must be >= 0")
	}
	if _, err := logging.ParseLevel(c.Node.LogLevel); err != nil {
		bad("log-level", "want debug, info, warn or error, got %q", c.Node.LogLevel)
	}
	if c.Orders.MaxItems < 1 || c.Orders.MaxItemQuantity < 1 || c.Orders.MaxTotalCents < 1 || c.Orders.MaxCustomerLength < 1 {
		bad("orders", "limits must be >= 1")
	}
	positive(bad, "order-idle-timeout", c.Orders.IdleTimeout)
	c.Relay.validate(bad)
	c.Remote.validate(bad)
	c.validateCluster(bad)
	if err := c.Tracing.Validate(); err != nil {
		bad("otel", "%v", err)
	}
	if c.Relay.Publish.DrainTimeout >= c.Node.ShutdownTimeout {
		bad("publish-drain-timeout", "%s is not below --shutdown-timeout %s", c.Relay.Publish.DrainTimeout, c.Node.ShutdownTimeout)
	}
	if c.Relay.Source == SourcePoll && c.Relay.Poll.SafetyLag <= c.Scylla.Timeout {
		bad("poll-safety-lag", "%s must exceed --scylla-timeout %s, or a slow commit is skipped", c.Relay.Poll.SafetyLag, c.Scylla.Timeout)
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
	if s.OutboxShards < 0 || s.OutboxShards > MaxOutboxShards {
		bad("outbox-shards", "must be between 1 and %d in cluster mode, got %d", MaxOutboxShards, s.OutboxShards)
	}
	if len(s.Hosts) > 1 && s.UseServerTimestamps() {
		bad("scylla-server-timestamps", "a cluster of %d hosts needs client timestamps: each coordinator would stamp on its own clock", len(s.Hosts))
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

// validate rejects explicit zeros too: the components read a zero as "use
// the default", which would silently replace an explicit 0.
func (r Relay) validate(bad func(field, format string, args ...any)) {
	if strings.TrimSpace(r.TopicTemplate) == "" {
		bad("topic-template", "must not be empty")
	}
	atLeastOne(bad, "retry-attempts", r.Retry.MaxAttempts)
	positive(bad, "retry-backoff-min", r.Retry.BackoffMin)
	if r.Retry.BackoffMax < r.Retry.BackoffMin {
		bad("retry-backoff-max", "%s is below --retry-backoff-min %s", r.Retry.BackoffMax, r.Retry.BackoffMin)
	}
	if r.Retry.FailureThreshold < 1 || r.Retry.SuccessThreshold < 1 {
		bad("breaker", "failure and success thresholds must be >= 1")
	}
	positive(bad, "breaker-open-delay", r.Retry.OpenDelay)

	atLeastOne(bad, "publish-max-batch", r.Publish.MaxBatch)
	positive(bad, "publish-linger", r.Publish.Linger)
	positive(bad, "publish-pause-delay", r.Publish.PauseDelay)
	positive(bad, "publish-drain-timeout", r.Publish.DrainTimeout)

	positive(bad, "cdc-confidence-window", r.CDC.ConfidenceWindow)
	positive(bad, "cdc-poll-delay", r.CDC.PollDelay)
	positive(bad, "cdc-idle-delay", r.CDC.IdleDelay)
	positive(bad, "cdc-progress-interval", r.CDC.ProgressInterval)
	atLeastOne(bad, "cdc-in-flight", r.CDC.InFlight)
	if r.Stream.LagShare <= 0 || r.Stream.LagShare > 1 {
		bad("cdc-lag-share", "must be in (0, 1], got %g", r.Stream.LagShare)
	}
	if r.Source != SourceCDC && r.Source != SourcePoll {
		bad("source", "want %s or %s, got %q", SourceCDC, SourcePoll, r.Source)
	}
	positive(bad, "poll-interval", r.Poll.Interval)
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
