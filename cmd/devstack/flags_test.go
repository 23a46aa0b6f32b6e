package main

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/infra/miniscylla"
)

// parse runs devstack's command line over env and returns the config its
// action would serve, without starting anything.
func parse(t *testing.T, env map[string]string, args ...string) (config, error) {
	t.Helper()
	var cfg config
	cmd := newCommand(&cfg, func(k string) string { return env[k] }, func(context.Context) error { return nil })
	cmd.Writer, cmd.ErrWriter = io.Discard, io.Discard
	err := cliflags.Run(t.Context(), cmd, append([]string{"devstack"}, args...))
	return cfg, err
}

func TestFlagsAndEnv(t *testing.T) {
	env := map[string]string{
		"OUTBOX_EMBEDDED_CQL_ADDR":   "127.0.0.1:19042",
		"OUTBOX_EMBEDDED_KAFKA_ADDR": "127.0.0.1:19092",
		"OUTBOX_DATA_DIR":            "/from/env",
		"OUTBOX_LOG_LEVEL":           "debug",
	}
	cfg, err := parse(t, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.cql.Addr != "127.0.0.1:19042" || cfg.kafka == nil || cfg.kafka.Addr != "127.0.0.1:19092" || cfg.logLevel.String() != "DEBUG" {
		t.Fatalf("from env: cql %s, kafka %+v, level %s", cfg.cql.Addr, cfg.kafka, cfg.logLevel)
	}
	// As on the node, the store's log lives in a subdirectory of --data-dir.
	if want := filepath.Join("/from/env", miniscylla.DataSubdir); cfg.cql.DataDir != want {
		t.Fatalf("data dir %q, want %q", cfg.cql.DataDir, want)
	}
	cfg, err = parse(t, env, "--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", "", "--data-dir", "/from/flag")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.cql.Addr != "127.0.0.1:0" || cfg.kafka != nil || cfg.cql.DataDir != filepath.Join("/from/flag", miniscylla.DataSubdir) {
		t.Fatalf("flags must win over env: cql %s, kafka %+v, data dir %q", cfg.cql.Addr, cfg.kafka, cfg.cql.DataDir)
	}
	cfg, err = parse(t, nil)
	if err != nil || cfg.cql.Addr != miniscylla.DefaultAddr || cfg.cql.DataDir != "" || cfg.cql.WALRecovery != "strict" {
		t.Fatalf("defaults: %v, %+v", err, cfg.cql)
	}
}

func TestBadEnvIsAUsageError(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"address":   {"OUTBOX_EMBEDDED_CQL_ADDR": "nonsense"},
		"log level": {"OUTBOX_LOG_LEVEL": "INFO"},
		"number":    {"OUTBOX_EMBEDDED_CQL_MAX_IN_FLIGHT_BYTES": "lots"},
	} {
		_, err := parse(t, env)
		var usage *cliflags.UsageError
		if !errors.As(err, &usage) {
			t.Errorf("%s %v: err %v, want a usage error", name, env, err)
		}
	}
}

func TestKafkaSASLMechanisms(t *testing.T) {
	cfg, err := parse(t, map[string]string{"OUTBOX_KAFKA_SASL_PASSWORD": "pw"},
		"--kafka-sasl-mechanism", "SCRAM-SHA-256,PLAIN", "--kafka-sasl-username", "u")
	if err != nil {
		t.Fatal(err)
	}
	if u := cfg.kafka.Users; len(u) != 2 || u[0].Mechanism != "SCRAM-SHA-256" || u[1].Mechanism != "PLAIN" || u[1].Password != "pw" {
		t.Fatalf("users %+v", u)
	}
}
