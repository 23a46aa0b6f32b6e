package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/secret"
	"github.com/outboxnode/outbox/infra/tlsfiles"
)

// config is devstack's command line.
type config struct {
	cqlAddr   string
	kafkaAddr string
	logLevel  slog.Level
	dataDir   string
	// walRecovery is miniscylla.Config.WALRecovery.
	walRecovery string
	cql         miniscylla.Config // authentication, TLS and memory bound (cql.go)
	// cqlFaultAddr is the loopback address of the CQL server's write-fault
	// switch (miniscylla.Server.ServeFaults); "" serves none.
	cqlFaultAddr string
	kafkaAuth    kafkaAuth
}

// kafkaAuth is the broker's optional SASL user and TLS certificate.
type kafkaAuth struct {
	mechanisms   []string // each registers the user under that mechanism
	username     string
	passwordFile string
	tlsCert      string
	tlsKey       string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.cqlAddr, "cql-addr", miniscylla.DefaultAddr, "CQL (ScyllaDB-compatible) listen address; port 0 picks a free port")
	fs.StringVar(&cfg.kafkaAddr, "kafka-addr", minikafka.DefaultAddr, `Kafka broker listen address; "" disables the broker`)
	fs.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo, "log level on stderr: debug, info, warn or error")
	fs.StringVar(&cfg.dataDir, "data-dir", "", `directory of the CQL server's write-ahead log, recovered at start; "" keeps data in memory only`)
	fs.StringVar(&cfg.walRecovery, "wal-recovery", "strict", "damage in the middle of the write-ahead log: strict refuses to start, salvage drops the damaged bytes and keeps every intact record")
	var cql cqlFlags
	cql.register(fs)
	fs.StringVar(&cfg.cqlFaultAddr, "cql-fault-addr", "", `loopback HTTP address of a switch that makes the CQL server fail writes to a table, for tests (POST /fail-writes?table=ks.t, POST /heal-writes); "" serves none`)
	fs.Func("kafka-sasl-mechanisms", "comma-separated SASL mechanisms the Kafka user may log in with (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); empty: no SASL", func(s string) error {
		cfg.kafkaAuth.mechanisms = strings.Split(s, ",")
		return nil
	})
	fs.StringVar(&cfg.kafkaAuth.username, "kafka-sasl-username", "", "the Kafka SASL user")
	fs.StringVar(&cfg.kafkaAuth.passwordFile, "kafka-sasl-password-file", "", "file holding the Kafka SASL user's password (first line)")
	fs.StringVar(&cfg.kafkaAuth.tlsCert, "kafka-tls-cert", "", "PEM certificate: the Kafka broker serves TLS only")
	fs.StringVar(&cfg.kafkaAuth.tlsKey, "kafka-tls-key", "", "PEM key of --kafka-tls-cert")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	var err error
	if cfg.cql, err = cql.serverConfig(os.Getenv); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
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
func starters(cfg config, log *slog.Logger) []func(context.Context) (service, error) {
	var cqlSrv *miniscylla.Server // the fault switch's server, set by the first starter
	s := []func(context.Context) (service, error){
		func(ctx context.Context) (service, error) {
			scfg := cfg.cql
			scfg.Addr, scfg.DataDir, scfg.WALRecovery, scfg.Logger = cfg.cqlAddr, cfg.dataDir, cfg.walRecovery, log.With("service", "cql")
			srv, err := miniscylla.Start(ctx, scfg)
			if err != nil {
				return service{}, err
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
	if cfg.kafkaAddr != "" {
		s = append(s, func(ctx context.Context) (service, error) {
			mk := minikafka.Config{Addr: cfg.kafkaAddr, Logger: log.With("service", "kafka")}
			if err := cfg.kafkaAuth.apply(&mk); err != nil {
				return service{}, err
			}
			b, err := minikafka.Start(ctx, mk)
			if err != nil {
				return service{}, err
			}
			return service{name: "kafka", addr: b.Addr(), stop: func() error { b.Close(); return nil }, outage: b.SetUnavailable}, nil
		})
	}
	return s
}

// apply adds the SASL users and TLS certificate to mk, reading the files.
func (a kafkaAuth) apply(mk *minikafka.Config) error {
	if len(a.mechanisms) > 0 {
		password, err := secret.Load(a.passwordFile, "", nil)
		if err != nil {
			return fmt.Errorf("kafka SASL password: %w", err)
		}
		for _, m := range a.mechanisms {
			mk.Users = append(mk.Users, minikafka.User{Mechanism: strings.TrimSpace(m), Name: a.username, Password: password})
		}
	}
	if a.tlsCert != "" || a.tlsKey != "" {
		tc, err := tlsfiles.Server(tlsfiles.Files{Cert: a.tlsCert, Key: a.tlsKey})
		if err != nil {
			return fmt.Errorf("kafka TLS certificate: %w", err)
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
