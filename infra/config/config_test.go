package config

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaultsAreEmbeddedAndValid(t *testing.T) {
	cfg, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !cfg.EmbeddedScylla() || !cfg.EmbeddedKafka() || !cfg.ShouldMigrate() || !cfg.Embedded.Persist {
		t.Fatalf("defaults should be embedded, persistent, with migration: %+v", cfg)
	}
	if got := cfg.ScyllaHosts(); len(got) != 1 || got[0] != "127.0.0.1:9042" {
		t.Fatalf("ScyllaHosts = %v", got)
	}
	if cfg.Node.RemoteAddr != "127.0.0.1:8090" || cfg.Node.MetricsAddr != "127.0.0.1:9090" {
		t.Fatalf("addresses = %q %q", cfg.Node.RemoteAddr, cfg.Node.MetricsAddr)
	}
}

func TestLoadFlagBeatsEnvBeatsDefault(t *testing.T) {
	cfg, err := Load(
		[]string{"--remote-addr", "127.0.0.1:7000", "--scylla-hosts", "10.0.0.1, 10.0.0.2"},
		env(map[string]string{
			"OUTBOX_REMOTE_ADDR": "127.0.0.1:6000",
			"OUTBOX_KEYSPACE":    "shop",
			"OUTBOX_REPLICATION": "dc1:3,dc2:2",
			"OUTBOX_TABLETS":     "off",
		}),
		io.Discard,
	)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Node.RemoteAddr != "127.0.0.1:7000" {
		t.Errorf("flag should win over env: %q", cfg.Node.RemoteAddr)
	}
	if cfg.Scylla.Keyspace != "shop" {
		t.Errorf("env should win over default: %q", cfg.Scylla.Keyspace)
	}
	if len(cfg.Scylla.Hosts) != 2 || cfg.Scylla.Hosts[1] != "10.0.0.2" || cfg.EmbeddedScylla() || cfg.ShouldMigrate() {
		t.Errorf("hosts %v: should be external and not migrate", cfg.Scylla.Hosts)
	}
	if got := cfg.Scylla.Replication.TabletsOption(); got != "{'enabled': false}" {
		t.Errorf("tablets option = %q", got)
	}
	want := "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"
	if got := cfg.Scylla.Replication.String(); got != want {
		t.Errorf("replication = %s, want %s", got, want)
	}
}

func TestLoadMigrateTriState(t *testing.T) {
	cfg, err := Load([]string{"--scylla-hosts=h:9042", "--migrate"}, env(nil), io.Discard)
	if err != nil || !cfg.ShouldMigrate() {
		t.Fatalf("--migrate on external hosts: migrate=%v err=%v", cfg.ShouldMigrate(), err)
	}
	cfg, err = Load(nil, env(map[string]string{"OUTBOX_MIGRATE": "false"}), io.Discard)
	if err != nil || cfg.ShouldMigrate() {
		t.Fatalf("OUTBOX_MIGRATE=false embedded: migrate=%v err=%v", cfg.ShouldMigrate(), err)
	}
}

func TestLoadRejectsBadInput(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		field string
	}{
		{"keyspace upper case", []string{"--keyspace", "Orders"}, nil, "keyspace"},
		{"keyspace injection", []string{"--keyspace", "ks; DROP"}, nil, "keyspace"},
		{"remote addr without port", []string{"--remote-addr", "localhost"}, nil, "remote-addr"},
		{"metrics addr without host", []string{"--metrics-addr", ":9090"}, nil, "metrics-addr"},
		{"consistency", []string{"--consistency", "MOST"}, nil, "consistency"},
		{"tablets", []string{"--tablets", "maybe"}, nil, "tablets"},
		{"tablets with SimpleStrategy", []string{"--tablets", "on"}, nil, "tablets"},
		{"replication", []string{"--replication", "simple:0"}, nil, "replication"},
		{"negative budget", []string{"--restart-budget", "-1"}, nil, "restart-budget"},
		{"ttl too small", []string{"--outbox-ttl", "10ms"}, nil, "outbox-ttl"},
		{"stray argument", []string{"extra"}, nil, "args"},
		{"backoff max below min", []string{"--retry-backoff-max", "10ms"}, nil, "retry-backoff-max"},
		{"no attempts", []string{"--retry-attempts", "0"}, nil, "retry-attempts"},
		{"empty topic template", []string{"--topic-template", " "}, nil, "topic-template"},
		{"wal recovery mode", nil, map[string]string{"OUTBOX_EMBEDDED_WAL_RECOVERY": "repair"}, "embedded-wal-recovery"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.args, env(tt.env), io.Discard)
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("want *InvalidError, got %v", err)
			}
			if inv.Field != tt.field {
				t.Fatalf("field = %q, want %q (%v)", inv.Field, tt.field, err)
			}
		})
	}
}

func TestLoadUnparsableValues(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		env   map[string]string
		names []string // what the error must name
	}{
		{[]string{"--no-such-flag"}, nil, []string{"no-such-flag"}},
		{[]string{"--max-items", "many"}, nil, []string{"max-items"}},
		{nil, map[string]string{"OUTBOX_SCYLLA_TIMEOUT": "soon"}, []string{"OUTBOX_SCYLLA_TIMEOUT", "scylla-timeout"}},
	} {
		_, err := Load(tc.args, env(tc.env), io.Discard)
		if err == nil {
			t.Errorf("%v %v accepted", tc.args, tc.env)
			continue
		}
		for _, n := range tc.names {
			if !strings.Contains(err.Error(), n) {
				t.Errorf("%v %v: error %q does not name %s", tc.args, tc.env, err, n)
			}
		}
	}
}

func TestDefaultValidates(t *testing.T) {
	c := Default()
	c.Coordinator.RestartWindow = 0
	c.Scylla.Timeout = -time.Second
	err := c.Validate()
	if err == nil {
		t.Fatal("zero restart window and negative timeout accepted")
	}
	if Default().Validate() != nil {
		t.Fatalf("Default invalid: %v", Default().Validate())
	}
}

func TestTabletsOptionPerStrategy(t *testing.T) {
	nts := map[string]int{"datacenter1": 3}
	for _, c := range []struct {
		r    Replication
		want string
	}{
		{Replication{Strategy: NetworkTopologyStrategy, DataCenters: nts, Tablets: "auto"}, ""},
		{Replication{Strategy: NetworkTopologyStrategy, DataCenters: nts}, ""},
		{Replication{Strategy: NetworkTopologyStrategy, DataCenters: nts, Tablets: "on"}, "{'enabled': true}"},
		{Replication{Strategy: NetworkTopologyStrategy, DataCenters: nts, Tablets: "off"}, "{'enabled': false}"},
		// ScyllaDB 2025.x defaults to tablets and refuses them for SimpleStrategy.
		{Replication{Strategy: SimpleStrategy, Factor: 1, Tablets: "auto"}, "{'enabled': false}"},
		{Replication{Strategy: SimpleStrategy, Factor: 1, Tablets: "off"}, "{'enabled': false}"},
	} {
		if got := c.r.TabletsOption(); got != c.want {
			t.Errorf("%+v: TabletsOption() = %q, want %q", c.r, got, c.want)
		}
	}
}
