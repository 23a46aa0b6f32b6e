package config

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/outboxnode/outbox/infra/secret"
)

// EnvPrefix prefixes the environment variable of every flag: --remote-addr
// is OUTBOX_REMOTE_ADDR.
const EnvPrefix = "OUTBOX_"

// Load parses args (without the program name) over Default. Each flag may
// also come from its OUTBOX_* environment variable (looked up with getenv);
// a flag given on the command line wins over the environment. The result is
// validated. Usage and parse errors are written to output.
func Load(args []string, getenv func(string) string, output io.Writer) (Config, error) {
	cfg := Default()
	var passwordFile string
	fs := newFlagSet(&cfg, &passwordFile)
	fs.SetOutput(output)
	if err := applyEnv(fs, getenv); err != nil {
		return Config{}, err
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("parse flags: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, &InvalidError{Field: "args", Reason: fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	var err error
	if cfg.Scylla.Password, err = loadSecret("scylla-password-file", passwordFile, EnvScyllaPassword, getenv); err != nil {
		return Config{}, err
	}
	if cfg.Kafka.Security.SASL.Password, err = loadSecret("kafka-sasl-password-file", cfg.Kafka.SASLPasswordFile, SASLPasswordEnv, getenv); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// FlagNames returns the name of every flag Load accepts, sorted, so that
// whatever configures the node from outside (the compose file and its test)
// can be checked against the real flag set.
func FlagNames() []string {
	cfg := Default()
	var passwordFile string
	var names []string
	newFlagSet(&cfg, &passwordFile).VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// newFlagSet registers every node flag over c; the store password file,
// which has no Config field, goes to passwordFile.
func newFlagSet(c *Config, passwordFile *string) *flag.FlagSet {
	fs := flag.NewFlagSet("outbox-node", flag.ContinueOnError)
	register(fs, c)
	fs.StringVar(passwordFile, "scylla-password-file", "", "file holding the store password (one line); or set "+EnvScyllaPassword+" to the password itself, not both")
	return fs
}

// EnvName returns the environment variable that sets flag name.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v := getenv(EnvName(f.Name))
		if v == "" || err != nil {
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = &InvalidError{Field: f.Name, Reason: fmt.Sprintf("%s=%q: %v", EnvName(f.Name), v, e)}
		}
	})
	return err
}

func register(fs *flag.FlagSet, c *Config) {
	fs.Var((*listValue)(&c.Scylla.Hosts), "scylla-hosts", "comma-separated ScyllaDB contact points; empty starts the embedded miniscylla")
	fs.StringVar(&c.Scylla.Keyspace, "keyspace", c.Scylla.Keyspace, "keyspace of the orders, outbox and DLQ tables")
	fs.Var((*replicationValue)(&c.Scylla.Replication), "replication", "keyspace replication: 'simple:RF' or 'dc1:RF,dc2:RF' (NetworkTopologyStrategy)")
	fs.StringVar(&c.Scylla.Replication.Tablets, "tablets", c.Scylla.Replication.Tablets, "keyspace tablets: auto (the server's default; SimpleStrategy always uses vnodes), on or off; CDC on tablets needs ScyllaDB 2025.4+, use off before")
	fs.StringVar(&c.Scylla.Consistency, "consistency", c.Scylla.Consistency, "consistency level of reads and writes")
	fs.DurationVar(&c.Scylla.Timeout, "scylla-timeout", c.Scylla.Timeout, "timeout of each query")
	fs.DurationVar(&c.Scylla.ConnectTimeout, "scylla-connect-timeout", c.Scylla.ConnectTimeout, "timeout of each connection attempt")
	fs.Var(optionalBool{&c.Scylla.Migrate}, "migrate", "apply the schema at start-up (default: on in embedded mode)")
	fs.Var(optionalBool{&c.Scylla.ServerTimestamps}, "scylla-server-timestamps", "let the store stamp each write when it applies, for a 10ms CDC confidence window; single host only (default: on in embedded mode)")
	fs.DurationVar(&c.Scylla.OutboxTTL, "outbox-ttl", c.Scylla.OutboxTTL, "TTL of outbox rows and of their CDC log")
	fs.StringVar(&c.Scylla.Username, "scylla-username", c.Scylla.Username, "store user (PasswordAuthenticator); in embedded mode also the embedded server's user")
	fs.StringVar(&c.Scylla.TLS.CAFile, "scylla-tls-ca", c.Scylla.TLS.CAFile, "PEM CA of the store's certificates; set to connect over TLS")
	fs.StringVar(&c.Scylla.TLS.CertFile, "scylla-tls-cert", c.Scylla.TLS.CertFile, "PEM client certificate for the store (with --scylla-tls-key)")
	fs.StringVar(&c.Scylla.TLS.KeyFile, "scylla-tls-key", c.Scylla.TLS.KeyFile, "PEM key of --scylla-tls-cert")
	fs.BoolVar(&c.Scylla.TLS.SkipHostVerification, "scylla-tls-skip-host-verify", c.Scylla.TLS.SkipHostVerification, "accept a store certificate issued for another host name (the CA is still checked)")

	fs.Var((*listValue)(&c.Kafka.Brokers), "kafka-brokers", "comma-separated Kafka brokers; empty starts the embedded minikafka")
	fs.StringVar(&c.Kafka.Security.SASL.Mechanism, "kafka-sasl-mechanism", "", "Kafka SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty: no SASL (embedded minikafka: require this user)")
	fs.StringVar(&c.Kafka.Security.SASL.Username, "kafka-sasl-username", "", "Kafka SASL username")
	fs.StringVar(&c.Kafka.SASLPasswordFile, "kafka-sasl-password-file", "", "file holding the Kafka SASL password (or set "+SASLPasswordEnv+")")
	fs.BoolVar(&c.Kafka.Security.TLS.Enabled, "kafka-tls", false, "connect to the Kafka brokers over TLS (implied by the --kafka-tls-* files)")
	fs.StringVar(&c.Kafka.Security.TLS.CAFile, "kafka-tls-ca", "", "PEM CA bundle that signs the brokers' certificates; empty: system roots")
	fs.StringVar(&c.Kafka.Security.TLS.CertFile, "kafka-tls-cert", "", "PEM client certificate, for brokers that require one")
	fs.StringVar(&c.Kafka.Security.TLS.KeyFile, "kafka-tls-key", "", "PEM key of --kafka-tls-cert")
	fs.BoolVar(&c.Kafka.Security.TLS.InsecureSkipVerify, "kafka-tls-insecure-skip-verify", false, "accept any broker certificate (tests only)")

	fs.StringVar(&c.Embedded.CQLAddr, "embedded-cql-addr", c.Embedded.CQLAddr, "listen address of the embedded miniscylla")
	fs.StringVar(&c.Embedded.KafkaAddr, "embedded-kafka-addr", c.Embedded.KafkaAddr, "listen address of the embedded minikafka")
	fs.IntVar(&c.Embedded.KafkaPartitions, "embedded-kafka-partitions", c.Embedded.KafkaPartitions, "partitions of the node's topics on the embedded minikafka (topics created on first use get 1, as in Kafka)")
	fs.BoolVar(&c.Embedded.Persist, "embedded-persist", c.Embedded.Persist, "keep the embedded store's data in <data-dir>/miniscylla across restarts (false: memory only)")
	fs.StringVar(&c.Embedded.WALRecovery, "embedded-wal-recovery", c.Embedded.WALRecovery, "damage in the middle of the embedded store's write-ahead log: strict refuses to start, salvage drops the damaged bytes and keeps every intact record")

	fs.StringVar(&c.Node.RemoteAddr, "remote-addr", c.Node.RemoteAddr, "Proto.Actor remote host:port, listened on and advertised as is")
	fs.StringVar(&c.Node.MetricsAddr, "metrics-addr", c.Node.MetricsAddr, "address of /metrics and /health")
	fs.StringVar(&c.Node.DataDir, "data-dir", c.Node.DataDir, "directory of the supervision log and embedded data")
	fs.DurationVar(&c.Node.RequestTimeout, "request-timeout", c.Node.RequestTimeout, "timeout of the node's requests to its own actors")
	fs.DurationVar(&c.Node.ShutdownTimeout, "shutdown-timeout", c.Node.ShutdownTimeout, "bound of the graceful shutdown")
	fs.IntVar(&c.Node.RestartBudget, "restart-budget", c.Node.RestartBudget, "restarts allowed per actor within --restart-window before the node stops")
	fs.DurationVar(&c.Node.RestartWindow, "restart-window", c.Node.RestartWindow, "window of --restart-budget")
	fs.BoolVar(&c.Node.EnableFaultInjection, "enable-fault-injection", c.Node.EnableFaultInjection, "accept InjectFault requests (tests only)")
	fs.StringVar(&c.Node.LogLevel, "log-level", c.Node.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.Tracing.Endpoint, "otel-endpoint", c.Tracing.Endpoint, "OTLP/HTTP collector URL the spans go to, e.g. http://localhost:4318 (empty: no spans exported; traceparent still propagated)")
	fs.Float64Var(&c.Tracing.SampleRatio, "otel-sample-ratio", c.Tracing.SampleRatio, "fraction of node-started traces recorded (0..1); a command's traceparent decides for its own trace")
	fs.StringVar(&c.Remote.CertFile, "remote-tls-cert", c.Remote.CertFile, "PEM certificate of the remote (mutual TLS; with --remote-tls-key and --remote-tls-ca)")
	fs.StringVar(&c.Remote.KeyFile, "remote-tls-key", c.Remote.KeyFile, "PEM private key of --remote-tls-cert")
	fs.StringVar(&c.Remote.CAFile, "remote-tls-ca", c.Remote.CAFile, "PEM CA that signs every peer; client certificates are required")
	fs.Var((*listValue)(&c.Remote.Admins), "remote-admin", "comma-separated common names (CN) of the client certificates allowed DLQ replay/skip and fault injection")

	fs.IntVar(&c.Orders.MaxItems, "max-items", c.Orders.MaxItems, "most items per order")
	fs.Func("max-item-quantity", fmt.Sprintf("most units per item (default %d)", c.Orders.MaxItemQuantity), func(s string) error {
		n, err := strconv.ParseInt(s, 10, 32)
		c.Orders.MaxItemQuantity = int32(n)
		return err
	})
	fs.Int64Var(&c.Orders.MaxTotalCents, "max-total-cents", c.Orders.MaxTotalCents, "largest order total, in cents")
	fs.IntVar(&c.Orders.MaxCustomerLength, "max-customer-length", c.Orders.MaxCustomerLength, "longest customer id, in bytes")
	fs.DurationVar(&c.Orders.IdleTimeout, "order-idle-timeout", c.Orders.IdleTimeout, "passivate a per-order actor after this idle time")

	fs.StringVar(&c.Relay.TopicTemplate, "topic-template", c.Relay.TopicTemplate, "Kafka topic of each event; {{event_type}} and {{aggregate_type}} are replaced")
	fs.IntVar(&c.Relay.RetryAttempts, "retry-attempts", c.Relay.RetryAttempts, "publish attempts per batch before pausing, the first included")
	fs.DurationVar(&c.Relay.RetryBackoffMin, "retry-backoff-min", c.Relay.RetryBackoffMin, "first retry delay; doubles per retry")
	fs.DurationVar(&c.Relay.RetryBackoffMax, "retry-backoff-max", c.Relay.RetryBackoffMax, "longest retry delay")
	fs.UintVar(&c.Relay.BreakerFailures, "breaker-failures", c.Relay.BreakerFailures, "consecutive publish failures that open the circuit breaker")
	fs.DurationVar(&c.Relay.BreakerOpenDelay, "breaker-open-delay", c.Relay.BreakerOpenDelay, "how long the breaker stays open before trial publishes")
	fs.UintVar(&c.Relay.BreakerSuccesses, "breaker-successes", c.Relay.BreakerSuccesses, "half-open successes that close the breaker")

	fs.IntVar(&c.Relay.Publish.MaxBatch, "publish-max-batch", c.Relay.Publish.MaxBatch, "most events in one Kafka batch")
	fs.DurationVar(&c.Relay.Publish.Linger, "publish-linger", c.Relay.Publish.Linger, "how long an idle publisher waits for more events before a partial batch")
	fs.DurationVar(&c.Relay.Publish.PauseDelay, "publish-pause-delay", c.Relay.Publish.PauseDelay, "wait before a paused batch (broker unavailable, DLQ store failing) is tried again")
	fs.DurationVar(&c.Relay.Publish.DrainTimeout, "publish-drain-timeout", c.Relay.Publish.DrainTimeout, "how long a stop waits for the batch in flight; below --shutdown-timeout")

	fs.DurationVar(&c.Relay.CDC.ConfidenceWindow, "cdc-confidence-window", c.Relay.CDC.ConfidenceWindow, "minimal age of a CDC change before it is read; 0 = 10ms with --scylla-server-timestamps, else 5s")
	fs.DurationVar(&c.Relay.CDC.PollDelay, "cdc-poll-delay", c.Relay.CDC.PollDelay, "pause after a CDC poll that returned rows")
	fs.DurationVar(&c.Relay.CDC.IdleDelay, "cdc-idle-delay", c.Relay.CDC.IdleDelay, "pause after an empty CDC poll")
	fs.IntVar(&c.Relay.CDC.InFlight, "cdc-in-flight", c.Relay.CDC.InFlight, "events read but not yet checkpointed before the reader waits")
	fs.DurationVar(&c.Relay.CDC.ProgressInterval, "cdc-progress-interval", c.Relay.CDC.ProgressInterval, "how often acknowledged CDC progress is saved to cdc_offsets")
	fs.Float64Var(&c.Relay.CDC.LagShare, "cdc-lag-share", c.Relay.CDC.LagShare, "share of --outbox-ttl (the CDC log TTL) above which lag turns /health degraded")

	fs.StringVar(&c.Relay.Source, "source", c.Relay.Source, "where the relay reads the outbox: cdc (its CDC log) or poll (time-range scans of the table, the slower reference)")
	fs.DurationVar(&c.Relay.Poll.Interval, "poll-interval", c.Relay.Poll.Interval, "--source poll: pause between scans once caught up")
	fs.DurationVar(&c.Relay.Poll.SafetyLag, "poll-safety-lag", c.Relay.Poll.SafetyLag, "--source poll: minimal age of an event before it is read (the latency floor); must exceed --scylla-timeout")
}

// EnvScyllaPassword holds the store password itself, for deployments that
// inject secrets as environment variables; set it or --scylla-password-file,
// not both.
const EnvScyllaPassword = EnvPrefix + "SCYLLA_PASSWORD"

// SASLPasswordEnv holds the Kafka SASL password; there is no flag for it,
// so it never shows in a process listing. Set it or
// --kafka-sasl-password-file, not both.
const SASLPasswordEnv = EnvPrefix + "KAFKA_SASL_PASSWORD"

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

func (l *listValue) Set(s string) error {
	*l = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// optionalBool is a boolean flag whose unset state is a nil *bool.
type optionalBool struct{ p **bool }

func (o optionalBool) String() string {
	if o.p == nil || *o.p == nil {
		return "auto"
	}
	return strconv.FormatBool(**o.p)
}

func (o optionalBool) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*o.p = &b
	return nil
}

// IsBoolFlag lets --migrate stand alone, like a flag.Bool.
func (o optionalBool) IsBoolFlag() bool { return true }

// replicationValue parses "simple:RF" or "dc1:RF,dc2:RF".
type replicationValue Replication

func (r *replicationValue) String() string { return Replication(*r).String() }

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
