package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/infra/logging"
	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/wal"
	"github.com/outboxnode/outbox/infra/secret"
	"github.com/outboxnode/outbox/infra/tlsfiles"
)

// config is devstack's command line, turned into the servers' configs.
type config struct {
	logLevel slog.Level
	// cql is the CQL server's config, without its logger; kafka the
	// broker's, nil when --embedded-kafka-addr is empty.
	cql   miniscylla.Config
	kafka *minikafka.Config
	// cqlFaultAddr is the loopback address of the CQL server's write-fault
	// switch (miniscylla.Server.ServeFaults); "" serves none.
	cqlFaultAddr string
}

// flagValues are devstack's flags as given.
type flagValues struct {
	cqlAddr, kafkaAddr string
	logLevel           string
	dataDir            string
	walRecovery        string
	cqlFaultAddr       string
	cql                cqlFlags
	kafka              kafkaFlags
}

// kafkaFlags are the broker's optional SASL user and TLS certificate.
type kafkaFlags struct {
	mechanisms   []string // each registers the user under that mechanism
	username     string
	passwordFile string
	tlsCert      string
	tlsKey       string
}

// newCommand returns devstack's command: its flags fill cfg (reading the
// secret files, before anything starts, so a bad one is a usage error) and
// its action is serve. Every flag has its OUTBOX_* variable, read with getenv.
func newCommand(cfg *config, getenv func(string) string, serve func(context.Context) error) *cli.Command {
	var f flagValues
	env := func(flag string) cli.ValueSourceChain { return cliflags.Env(getenv, flag) }
	flags := []cli.Flag{
		&cli.StringFlag{Name: "embedded-cql-addr", Value: miniscylla.DefaultAddr, Destination: &f.cqlAddr, Sources: env("embedded-cql-addr"),
			Usage: "listen address of the CQL server (miniscylla); port 0 picks a free port"},
		&cli.StringFlag{Name: "embedded-kafka-addr", Value: minikafka.DefaultAddr, Destination: &f.kafkaAddr, Sources: env("embedded-kafka-addr"),
			Usage: `listen address of the Kafka broker (minikafka); "" disables the broker`},
		&cli.StringFlag{Name: "log-level", Value: logging.DefaultLevel, Destination: &f.logLevel, Sources: env("log-level"),
			Usage: "log level on stderr: debug, info, warn or error"},
		&cli.StringFlag{Name: "data-dir", Destination: &f.dataDir, Sources: env("data-dir"), TakesFile: true,
			Usage: `directory of the embedded data: the CQL server's write-ahead log is kept in <data-dir>/` + miniscylla.DataSubdir + `, recovered at start; "" keeps data in memory only`},
		&cli.StringFlag{Name: "embedded-wal-recovery", Value: "strict", Destination: &f.walRecovery, Sources: env("embedded-wal-recovery"),
			Usage: "damage in the middle of the write-ahead log: strict refuses to start, salvage drops the damaged bytes and keeps every intact record"},
		&cli.StringFlag{Name: "embedded-cql-fault-addr", Destination: &f.cqlFaultAddr, Sources: env("embedded-cql-fault-addr"),
			Usage: `loopback HTTP address of a switch that makes the CQL server fail writes to a table, for tests (POST /fail-writes?table=ks.t, POST /heal-writes); "" serves none`},
		&cli.StringSliceFlag{Name: "kafka-sasl-mechanism", Destination: &f.kafka.mechanisms, Sources: env("kafka-sasl-mechanism"),
			Usage: "SASL mechanism the Kafka user logs in with: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, comma-separated or repeated to allow several; empty: no SASL"},
		&cli.StringFlag{Name: "kafka-sasl-username", Destination: &f.kafka.username, Sources: env("kafka-sasl-username"),
			Usage: "the Kafka SASL user"},
		&cli.StringFlag{Name: "kafka-sasl-password-file", Destination: &f.kafka.passwordFile, Sources: env("kafka-sasl-password-file"), TakesFile: true,
			Usage: "file holding the Kafka SASL user's password (first line); or set " + cliflags.EnvName(kafkaPasswordFlag) + " to the password itself, not both"},
		&cli.StringFlag{Name: "embedded-kafka-tls-cert", Destination: &f.kafka.tlsCert, Sources: env("embedded-kafka-tls-cert"), TakesFile: true,
			Usage: "PEM certificate: the Kafka broker serves TLS only"},
		&cli.StringFlag{Name: "embedded-kafka-tls-key", Destination: &f.kafka.tlsKey, Sources: env("embedded-kafka-tls-key"), TakesFile: true,
			Usage: "PEM key of --embedded-kafka-tls-cert"},
	}
	return &cli.Command{
		Name:        "devstack",
		Usage:       "the outbox node's embedded store and broker (miniscylla + minikafka) as one process",
		Description: "A flag on the command line wins over its environment variable.\nExit codes: 0 stopped by a signal, 1 start or stop failed, 2 bad command line or listen address.",
		HideVersion: true,
		Flags:       append(flags, f.cql.flags(env)...),
		Before: func(ctx context.Context, c *cli.Command) (context.Context, error) {
			if _, err := cliflags.Args(c); err != nil {
				return ctx, err
			}
			var err error
			*cfg, err = f.config(getenv)
			if err != nil {
				return ctx, &cliflags.UsageError{Err: err}
			}
			return ctx, nil
		},
		Action: func(ctx context.Context, _ *cli.Command) error { return serve(ctx) },
	}
}

// config checks the flags and reads the secret files they name.
func (f flagValues) config(getenv func(string) string) (config, error) {
	var cfg config
	var err error
	if cfg.logLevel, err = logging.ParseLevel(f.logLevel); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	for flag, addr := range map[string]string{"embedded-cql-addr": f.cqlAddr, "embedded-kafka-addr": cmp.Or(f.kafkaAddr, ":0")} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return cfg, fmt.Errorf("--%s: %w", flag, err)
		}
	}
	if _, err := wal.ParseRecovery(f.walRecovery); err != nil {
		return cfg, fmt.Errorf("--embedded-wal-recovery: %w", err)
	}
	if cfg.cql, err = f.cql.serverConfig(getenv); err != nil {
		return cfg, err
	}
	cfg.cql.Addr, cfg.cql.WALRecovery, cfg.cqlFaultAddr = f.cqlAddr, f.walRecovery, f.cqlFaultAddr
	if f.dataDir != "" {
		cfg.cql.DataDir = filepath.Join(f.dataDir, miniscylla.DataSubdir)
	}
	if f.kafkaAddr != "" {
		cfg.kafka = &minikafka.Config{Addr: f.kafkaAddr}
		if err := f.kafka.apply(cfg.kafka, getenv); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// service is one running server of the stack.
type service struct {
	name string
	addr string
	stop func() error
	// outage takes the service down (true) or back up (false) while the
	// process keeps running and keeps its data; nil when it has no switch.
	outage func(down bool) error
}

// stack is the running services, in start order.
type stack []service

// starters lists the services devstack runs; a new one is one more entry.
// Each logs with its component's name, as on the node.
func starters(cfg config, log *slog.Logger) []func(context.Context) (service, error) {
	var cqlSrv *miniscylla.Server // the fault switch's server, set by the first starter
	s := []func(context.Context) (service, error){
		func(ctx context.Context) (service, error) {
			scfg := cfg.cql
			scfg.Logger = log.With(logging.ComponentKey, "miniscylla")
			srv, err := miniscylla.Start(ctx, scfg)
			if err != nil {
				return service{}, cliflags.ListenError(err, "embedded-cql-addr")
			}
			cqlSrv = srv
			return service{name: "cql", addr: srv.Addr(), stop: srv.Close}, nil
		},
	}
	if cfg.cqlFaultAddr != "" {
		s = append(s, func(ctx context.Context) (service, error) {
			addr, stop, err := cqlSrv.ServeFaults(ctx, cfg.cqlFaultAddr)
			return service{name: "cql-fault", addr: addr, stop: stop}, err
		})
	}
	if cfg.kafka != nil {
		s = append(s, func(ctx context.Context) (service, error) {
			mk := *cfg.kafka
			mk.Logger = log.With(logging.ComponentKey, "minikafka")
			b, err := minikafka.Start(ctx, mk)
			if err != nil {
				return service{}, cliflags.ListenError(err, "embedded-kafka-addr")
			}
			return service{name: "kafka", addr: b.Addr(), stop: func() error { b.Close(); return nil }, outage: b.SetUnavailable}, nil
		})
	}
	return s
}

// kafkaPasswordFlag names the variable that holds the Kafka SASL password
// itself (OUTBOX_KAFKA_SASL_PASSWORD, as on the node).
const kafkaPasswordFlag = "kafka-sasl-password"

// apply adds the SASL users and TLS certificate to mk, reading the files.
func (a kafkaFlags) apply(mk *minikafka.Config, getenv func(string) string) error {
	if len(a.mechanisms) > 0 {
		password, err := secret.Load(a.passwordFile, cliflags.EnvName(kafkaPasswordFlag), getenv)
		if err != nil {
			return fmt.Errorf("--kafka-sasl-password-file: %w", err)
		}
		for _, m := range a.mechanisms {
			mk.Users = append(mk.Users, minikafka.User{Mechanism: strings.TrimSpace(m), Name: a.username, Password: password})
		}
	}
	if a.tlsCert != "" || a.tlsKey != "" {
		tc, err := tlsfiles.Server(tlsfiles.Files{Cert: a.tlsCert, Key: a.tlsKey})
		if err != nil {
			return fmt.Errorf("--embedded-kafka-tls-cert: %w", err)
		}
		mk.TLS = tc
	}
	return nil
}

// start starts every service; on failure it stops those already running.
func start(ctx context.Context, cfg config, log *slog.Logger) (stack, error) {
	var st stack
	for _, startOne := range starters(cfg, log) {
		svc, err := startOne(ctx)
		if err != nil {
			return nil, errors.Join(err, st.stop())
		}
		st = append(st, svc)
	}
	return st, nil
}

// addrs renders "name=addr" pairs for the ready line.
func (st stack) addrs() string {
	parts := make([]string, len(st))
	for i, s := range st {
		parts[i] = s.name + "=" + s.addr
	}
	return strings.Join(parts, " ")
}

// stop stops the services in reverse start order.
func (st stack) stop() error {
	var errs []error
	for i := len(st) - 1; i >= 0; i-- {
		if err := st[i].stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", st[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// setOutage takes every service with an outage switch down or back up and
// returns the names of those it switched.
func (st stack) setOutage(down bool) ([]string, error) {
	var names []string
	for _, s := range st {
		if s.outage == nil {
			continue
		}
		if err := s.outage(down); err != nil {
			return names, fmt.Errorf("%s: %w", s.name, err)
		}
		names = append(names, s.name)
	}
	return names, nil
}
