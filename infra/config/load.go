package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/infra/secret"
)

// ErrHelp is returned by Load when -h or --help printed the usage instead
// of loading anything.
var ErrHelp = errors.New("help requested")

// Load parses args (without the program name) over Default. Each flag may
// also come from its OUTBOX_* environment variable (looked up with getenv);
// a flag given on the command line wins over the environment. The result is
// validated. The usage (-h) is written to output.
func Load(args []string, getenv func(string) string, output io.Writer) (Config, error) {
	f := NewFlags(getenv)
	var cfg Config
	cmd := &cli.Command{
		Name:   "outbox-node",
		Usage:  "run the transactional-outbox node",
		Flags:  f.List(),
		Writer: output, ErrWriter: output,
		Action: func(_ context.Context, cmd *cli.Command) (err error) {
			cfg, err = f.Config(cmd)
			return err
		},
	}
	ran := false
	action := cmd.Action
	cmd.Action = func(ctx context.Context, c *cli.Command) error {
		ran = true
		return action(ctx, c)
	}
	if err := cliflags.Run(context.Background(), cmd, append([]string{cmd.Name}, args...)); err != nil {
		return Config{}, err
	}
	if !ran {
		return Config{}, ErrHelp
	}
	return cfg, nil
}

// FlagNames returns the name of every flag Load accepts, sorted, so that
// whatever configures the node from outside (the compose file and its test)
// can be checked against the real flag set.
func FlagNames() []string {
	var names []string
	for _, f := range NewFlags(func(string) string { return "" }).List() {
		names = append(names, f.Names()[0])
	}
	slices.Sort(names)
	return names
}

// Flags binds every node flag, and its environment variable, to a Config
// that starts as Default. Put List on a cli.Command (its flags apply to
// the subcommands too) and take the result from Config once it parsed.
type Flags struct {
	cfg    Config
	getenv func(string) string
	list   []cli.Flag
	// Settings with no Config field of their own: the store password file
	// (Config holds the password it names) and --migrate, whose unset state
	// is a nil Config.Scylla.Migrate; --scylla-server-timestamps likewise.
	passwordFile     string
	migrate          bool
	serverTimestamps bool
}

// Flag names Config reads back from the command.
const (
	flagMigrate          = "migrate"
	flagServerTimestamps = "scylla-server-timestamps"
	flagConfidenceWindow = "cdc-confidence-window"
	flagOutboxShards     = "outbox-shards"
)

// NewFlags returns the node's flags over Default; getenv looks up their
// OUTBOX_* variables.
func NewFlags(getenv func(string) string) *Flags {
	f := &Flags{cfg: Default(), getenv: getenv}
	f.list = f.register()
	return f
}

// List returns the flags.
func (f *Flags) List() []cli.Flag { return f.list }

// Config returns the configuration cmd parsed: defaults that follow the
// mode applied (the CDC confidence window, unless set), the passwords read
// from their file or variable, and validated.
func (f *Flags) Config(cmd *cli.Command) (Config, error) {
	if cmd.Args().Len() > 0 {
		return Config{}, &InvalidError{Field: "args", Reason: fmt.Sprintf("unexpected arguments %q", cmd.Args().Slice())}
	}
	cfg := f.cfg
	if cmd.IsSet(flagMigrate) {
		m := f.migrate
		cfg.Scylla.Migrate = &m
	}
	if cmd.IsSet(flagServerTimestamps) {
		st := f.serverTimestamps
		cfg.Scylla.ServerTimestamps = &st
	}
	if cfg.Cluster.Enabled() && !cmd.IsSet(flagOutboxShards) {
		cfg.Scylla.OutboxShards = DefaultOutboxShards
	}
	if !cmd.IsSet(flagConfidenceWindow) {
		cfg.Relay.CDC.ConfidenceWindow = cfg.DefaultConfidenceWindow()
	}
	var err error
	if cfg.Scylla.Password, err = loadSecret("scylla-password-file", f.passwordFile, EnvScyllaPassword, f.getenv); err != nil {
		return Config{}, err
	}
	if cfg.Kafka.Security.SASL.Password, err = loadSecret("kafka-sasl-password-file", cfg.Kafka.SASLPasswordFile, SASLPasswordEnv, f.getenv); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Help categories.
const (
	catStore    = "store (ScyllaDB)"
	catBroker   = "broker (Kafka)"
	catEmbedded = "embedded store and broker"
	catNode     = "node"
	catOrders   = "orders"
	catRelay    = "relay (CDC -> Kafka)"
	catCluster  = "cluster"
)

func (f *Flags) register() []cli.Flag {
	c := &f.cfg
	return []cli.Flag{
		f.generic(catStore, "scylla-hosts", (*listValue)(&c.Scylla.Hosts), "comma-separated ScyllaDB contact points; empty starts the embedded miniscylla"),
		f.str(catStore, "keyspace", &c.Scylla.Keyspace, "keyspace of the orders, outbox and DLQ tables"),
		f.generic(catStore, "replication", (*replicationValue)(&c.Scylla.Replication), "keyspace replication: 'simple:RF' or 'dc1:RF,dc2:RF' (NetworkTopologyStrategy)"),
		f.str(catStore, "tablets", &c.Scylla.Replication.Tablets, "keyspace tablets: auto (the server's default; SimpleStrategy always uses vnodes), on or off; CDC on tablets needs ScyllaDB 2025.4+, use off before"),
		f.str(catStore, "consistency", &c.Scylla.Consistency, "consistency level of reads and writes"),
		f.dur(catStore, "scylla-timeout", &c.Scylla.Timeout, "timeout of each query"),
		f.dur(catStore, "scylla-connect-timeout", &c.Scylla.ConnectTimeout, "timeout of each connection attempt"),
		&cli.BoolFlag{Category: catStore, Name: flagMigrate, Destination: &f.migrate, Sources: f.Env(flagMigrate), DefaultText: "on in embedded mode, off with --scylla-hosts",
			Usage: "apply the schema at start-up"},
		&cli.BoolFlag{Category: catStore, Name: flagServerTimestamps, Destination: &f.serverTimestamps, Sources: f.Env(flagServerTimestamps), DefaultText: "on in embedded mode, off with --scylla-hosts",
			Usage: "let the store stamp each write when it applies, for a 10ms CDC confidence window; single host only"},
		f.dur(catStore, "outbox-ttl", &c.Scylla.OutboxTTL, "TTL of outbox rows and of their CDC log"),
		f.str(catStore, "scylla-username", &c.Scylla.Username, "store user (PasswordAuthenticator); in embedded mode also the embedded server's user"),
		f.file(catStore, "scylla-password-file", &f.passwordFile, "file holding the store password (one line); or set "+EnvScyllaPassword+" to the password itself, not both"),
		f.file(catStore, "scylla-tls-ca", &c.Scylla.TLS.CAFile, "PEM CA of the store's certificates; set to connect over TLS"),
		f.file(catStore, "scylla-tls-cert", &c.Scylla.TLS.CertFile, "PEM client certificate for the store (with --scylla-tls-key)"),
		f.file(catStore, "scylla-tls-key", &c.Scylla.TLS.KeyFile, "PEM key of --scylla-tls-cert"),
		f.boolean(catStore, "scylla-tls-skip-host-verify", &c.Scylla.TLS.SkipHostVerification, "accept a store certificate issued for another host name (the CA is still checked)"),

		f.generic(catBroker, "kafka-brokers", (*listValue)(&c.Kafka.Brokers), "comma-separated Kafka brokers; empty starts the embedded minikafka"),
		f.str(catBroker, "kafka-sasl-mechanism", &c.Kafka.Security.SASL.Mechanism, "Kafka SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty: no SASL (embedded minikafka: require this user)"),
		f.str(catBroker, "kafka-sasl-username", &c.Kafka.Security.SASL.Username, "Kafka SASL username"),
		f.file(catBroker, "kafka-sasl-password-file", &c.Kafka.SASLPasswordFile, "file holding the Kafka SASL password (or set "+SASLPasswordEnv+")"),
		f.boolean(catBroker, "kafka-tls", &c.Kafka.Security.TLS.Enabled, "connect to the Kafka brokers over TLS (implied by the --kafka-tls-* files)"),
		f.file(catBroker, "kafka-tls-ca", &c.Kafka.Security.TLS.CAFile, "PEM CA bundle that signs the brokers' certificates; empty: system roots"),
		f.file(catBroker, "kafka-tls-cert", &c.Kafka.Security.TLS.CertFile, "PEM client certificate, for brokers that require one"),
		f.file(catBroker, "kafka-tls-key", &c.Kafka.Security.TLS.KeyFile, "PEM key of --kafka-tls-cert"),
		f.boolean(catBroker, "kafka-tls-insecure-skip-verify", &c.Kafka.Security.TLS.InsecureSkipVerify, "accept any broker certificate (tests only)"),

		f.str(catEmbedded, "embedded-cql-addr", &c.Embedded.CQLAddr, "listen address of the embedded miniscylla"),
		f.str(catEmbedded, "embedded-kafka-addr", &c.Embedded.KafkaAddr, "listen address of the embedded minikafka"),
		f.integer(catEmbedded, "embedded-kafka-partitions", &c.Embedded.KafkaPartitions, "partitions of the node's topics on the embedded minikafka (topics created on first use get 1, as in Kafka)"),
		f.boolean(catEmbedded, "embedded-persist", &c.Embedded.Persist, "keep the embedded store's data in <data-dir>/miniscylla across restarts (false: memory only)"),
		f.str(catEmbedded, "embedded-wal-recovery", &c.Embedded.WALRecovery, "damage in the middle of the embedded store's write-ahead log: strict refuses to start, salvage drops the damaged bytes and keeps every intact record"),

		f.str(catNode, "remote-addr", &c.Node.RemoteAddr, "Proto.Actor remote host:port, listened on and advertised as is"),
		f.str(catNode, "metrics-addr", &c.Node.MetricsAddr, "address of /metrics and /health"),
		f.boolean(catNode, "pprof", &c.Node.Pprof, "also serve net/http/pprof under /debug/pprof/ on --metrics-addr (profiling; off by default)"),
		f.str(catNode, "data-dir", &c.Node.DataDir, "directory of the supervision log and embedded data"),
		f.dur(catNode, "request-timeout", &c.Node.RequestTimeout, "timeout of the node's requests to its own actors"),
		f.dur(catNode, "shutdown-timeout", &c.Node.ShutdownTimeout, "bound of the graceful shutdown"),
		f.integer(catNode, "restart-budget", &c.Coordinator.RestartBudget, "restarts allowed per actor within --restart-window before the node stops"),
		f.dur(catNode, "restart-window", &c.Coordinator.RestartWindow, "window of --restart-budget"),
		f.boolean(catNode, "enable-fault-injection", &c.Coordinator.EnableFaultInjection, "accept InjectFault requests (tests only)"),
		f.str(catNode, "log-level", &c.Node.LogLevel, "debug, info, warn or error"),
		f.str(catNode, "otel-endpoint", &c.Tracing.Endpoint, "OTLP/HTTP collector URL the spans go to, e.g. http://localhost:4318 (empty: no spans exported; traceparent still propagated)"),
		&cli.Float64Flag{Category: catNode, Name: "otel-sample-ratio", Destination: &c.Tracing.SampleRatio, Value: c.Tracing.SampleRatio, Sources: f.Env("otel-sample-ratio"),
			Usage: "fraction of node-started traces recorded (0..1); a command's traceparent decides for its own trace"},
		f.file(catNode, "remote-tls-cert", &c.Remote.CertFile, "PEM certificate of the remote (mutual TLS; with --remote-tls-key and --remote-tls-ca)"),
		f.file(catNode, "remote-tls-key", &c.Remote.KeyFile, "PEM private key of --remote-tls-cert"),
		f.file(catNode, "remote-tls-ca", &c.Remote.CAFile, "PEM CA that signs every peer; client certificates are required"),
		f.generic(catNode, "remote-admin", (*listValue)(&c.Remote.Admins), "comma-separated common names (CN) of the client certificates allowed DLQ replay/skip and fault injection"),

		f.str(catCluster, "cluster-name", &c.Cluster.Name, "join the cluster of this name (cluster mode; needs --scylla-hosts and --kafka-brokers); empty: the node runs alone"),
		f.str(catCluster, "cluster-addr", &c.Cluster.Addr, "host:port of this member's health endpoint, which its peers probe"),
		f.generic(catCluster, "cluster-peers", (*listValue)(&c.Cluster.Peers), "comma-separated --cluster-addr of the members (this one's may be among them)"),
		f.str(catCluster, "cluster-remote-addr", &c.Cluster.RemoteAddr, "host:port of the members' private Proto.Actor remote (default: --cluster-addr's host, port + 1)"),
		f.integer(catCluster, flagOutboxShards, &c.Scylla.OutboxShards, "outbox shard tables in cluster mode, fixed when the schema is created (default "+strconv.Itoa(DefaultOutboxShards)+")"),

		f.integer(catOrders, "max-items", &c.Orders.MaxItems, "most items per order"),
		&cli.Int32Flag{Category: catOrders, Name: "max-item-quantity", Destination: &c.Orders.MaxItemQuantity, Value: c.Orders.MaxItemQuantity, Sources: f.Env("max-item-quantity"),
			Usage: "most units per item"},
		&cli.Int64Flag{Category: catOrders, Name: "max-total-cents", Destination: &c.Orders.MaxTotalCents, Value: c.Orders.MaxTotalCents, Sources: f.Env("max-total-cents"),
			Usage: "largest order total, in cents"},
		f.integer(catOrders, "max-customer-length", &c.Orders.MaxCustomerLength, "longest customer id, in bytes"),
		f.dur(catOrders, "order-idle-timeout", &c.Orders.IdleTimeout, "passivate a per-order actor after this idle time"),

		f.str(catRelay, "topic-template", &c.Relay.TopicTemplate, "Kafka topic of each event; {{event_type}} and {{aggregate_type}} are replaced"),
		f.integer(catRelay, "retry-attempts", &c.Relay.Retry.MaxAttempts, "publish attempts per batch before pausing, the first included"),
		f.dur(catRelay, "retry-backoff-min", &c.Relay.Retry.BackoffMin, "first retry delay; doubles per retry"),
		f.dur(catRelay, "retry-backoff-max", &c.Relay.Retry.BackoffMax, "longest retry delay"),
		f.unsigned(catRelay, "breaker-failures", &c.Relay.Retry.FailureThreshold, "consecutive publish failures that open the circuit breaker"),
		f.dur(catRelay, "breaker-open-delay", &c.Relay.Retry.OpenDelay, "how long the breaker stays open before trial publishes"),
		f.unsigned(catRelay, "breaker-successes", &c.Relay.Retry.SuccessThreshold, "half-open successes that close the breaker"),
		f.integer(catRelay, "publish-max-batch", &c.Relay.Publish.MaxBatch, "most events in one Kafka batch"),
		f.dur(catRelay, "publish-linger", &c.Relay.Publish.Linger, "how long an idle publisher waits for more events before a partial batch"),
		f.dur(catRelay, "publish-pause-delay", &c.Relay.Publish.PauseDelay, "wait before a paused batch (broker unavailable, DLQ store failing) is tried again"),
		f.dur(catRelay, "publish-drain-timeout", &c.Relay.Publish.DrainTimeout, "how long a stop waits for the batch in flight; below --shutdown-timeout"),
		&cli.DurationFlag{Category: catRelay, Name: flagConfidenceWindow, Destination: &c.Relay.CDC.ConfidenceWindow, Sources: f.Env(flagConfidenceWindow),
			DefaultText: fmt.Sprintf("%s with server timestamps, else %s", Default().DefaultConfidenceWindow(), Config{Scylla: Scylla{Hosts: []string{""}}}.DefaultConfidenceWindow()),
			Usage:       "minimal age of a CDC change before it is read"},
		f.dur(catRelay, "cdc-poll-delay", &c.Relay.CDC.PollDelay, "pause after a CDC poll that returned rows"),
		f.dur(catRelay, "cdc-idle-delay", &c.Relay.CDC.IdleDelay, "pause after an empty CDC poll"),
		f.integer(catRelay, "cdc-in-flight", &c.Relay.CDC.InFlight, "events read but not yet checkpointed before the reader waits"),
		f.dur(catRelay, "cdc-progress-interval", &c.Relay.CDC.ProgressInterval, "how often acknowledged CDC progress is saved to cdc_offsets"),
		&cli.Float64Flag{Category: catRelay, Name: "cdc-lag-share", Destination: &c.Relay.Stream.LagShare, Value: c.Relay.Stream.LagShare, Sources: f.Env("cdc-lag-share"),
			Usage: "share of --outbox-ttl (the CDC log TTL) above which lag turns /health degraded"},
		f.str(catRelay, "source", &c.Relay.Source, "where the relay reads the outbox: cdc (its CDC log) or poll (time-range scans of the table, the slower reference)"),
		f.dur(catRelay, "poll-interval", &c.Relay.Poll.Interval, "--source poll: pause between scans once caught up"),
		f.dur(catRelay, "poll-safety-lag", &c.Relay.Poll.SafetyLag, "--source poll: minimal age of an event before it is read (the latency floor); must exceed --scylla-timeout"),
	}
}

// Env is the one environment variable of flag name (cliflags.EnvName),
// read with the getenv of NewFlags; a flag the caller adds beside List
// uses it too.
func (f *Flags) Env(name string) cli.ValueSourceChain { return cliflags.Env(f.getenv, name) }

func (f *Flags) str(cat, name string, p *string, usage string) cli.Flag {
	return &cli.StringFlag{Category: cat, Name: name, Destination: p, Value: *p, Sources: f.Env(name), Usage: usage}
}

func (f *Flags) file(cat, name string, p *string, usage string) cli.Flag {
	return &cli.StringFlag{Category: cat, Name: name, Destination: p, Value: *p, Sources: f.Env(name), Usage: usage, TakesFile: true}
}

func (f *Flags) dur(cat, name string, p *time.Duration, usage string) cli.Flag {
	return &cli.DurationFlag{Category: cat, Name: name, Destination: p, Value: *p, Sources: f.Env(name), Usage: usage}
}

func (f *Flags) integer(cat, name string, p *int, usage string) cli.Flag {
	return &cli.IntFlag{Category: cat, Name: name, Destination: p, Value: *p, Sources: f.Env(name), Usage: usage}
}

func (f *Flags) unsigned(cat, name string, p *uint, usage string) cli.Flag {
	return &cli.UintFlag{Category: cat, Name: name, Destination: p, Value: *p, Sources: f.Env(name), Usage: usage}
}

func (f *Flags) boolean(cat, name string, p *bool, usage string) cli.Flag {
	fl := &cli.BoolFlag{Category: cat, Name: name, Destination: p, Value: *p, Sources: f.Env(name), Usage: usage}
	if *p {
		fl.DefaultText = "true" // the help shows no default for a bool otherwise
	}
	return fl
}

func (f *Flags) generic(cat, name string, v cli.Value, usage string) cli.Flag {
	return &cli.GenericFlag{Category: cat, Name: name, Value: v, Sources: f.Env(name), Usage: usage}
}

// EnvScyllaPassword holds the store password itself, for deployments that
// inject secrets as environment variables; set it or --scylla-password-file,
// not both.
const EnvScyllaPassword = cliflags.EnvPrefix + "SCYLLA_PASSWORD"

// SASLPasswordEnv holds the Kafka SASL password; there is no flag for it,
// so it never shows in a process listing. Set it or
// --kafka-sasl-password-file, not both.
const SASLPasswordEnv = cliflags.EnvPrefix + "KAFKA_SASL_PASSWORD"

// loadSecret loads a password from file or the environment variable envName
// (secret.Load); there is no password flag: a command line is visible to
// every user of the host. Errors name the flag, the file and the variable,
// never the password.
func loadSecret(flagName, file, envName string, getenv func(string) string) (secret.Secret, error) {
	s, err := secret.Load(file, envName, getenv)
	if err != nil {
		return "", &InvalidError{Field: flagName, Reason: err.Error()}
	}
	return s, nil
}

// listValue is a comma-separated list flag; "" is the empty list.
type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }

func (l *listValue) Get() any { return []string(*l) }

func (l *listValue) Set(s string) error {
	*l = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// replicationValue parses "simple:RF" or "dc1:RF,dc2:RF".
type replicationValue Replication

func (r *replicationValue) String() string {
	if r.Strategy != NetworkTopologyStrategy {
		return fmt.Sprintf("simple:%d", r.Factor)
	}
	parts := make([]string, 0, len(r.DataCenters))
	for _, dc := range sortedKeys(r.DataCenters) {
		parts = append(parts, fmt.Sprintf("%s:%d", dc, r.DataCenters[dc]))
	}
	return strings.Join(parts, ",")
}

func (r *replicationValue) Get() any { return Replication(*r) }

func (r *replicationValue) Set(s string) error {
	parts := strings.Split(s, ",")
	dcs := map[string]int{}
	for _, p := range parts {
		name, n, ok := strings.Cut(strings.TrimSpace(p), ":")
		f, err := strconv.Atoi(n)
		if !ok || err != nil {
			return fmt.Errorf("want name:factor, got %q", p)
		}
		dcs[name] = f
	}
	tablets := r.Tablets
	if f, ok := dcs["simple"]; ok && len(dcs) == 1 {
		*r = replicationValue{Strategy: SimpleStrategy, Factor: f, Tablets: tablets}
		return nil
	}
	*r = replicationValue{Strategy: NetworkTopologyStrategy, DataCenters: dcs, Tablets: tablets}
	return nil
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
