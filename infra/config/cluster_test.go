package config

import (
	"errors"
	"io"
	"testing"
)

var external = []string{"--scylla-hosts", "db:9042", "--kafka-brokers", "kafka:9092"}

func TestClusterFlags(t *testing.T) {
	args := append([]string{"--cluster-name", "orders", "--cluster-addr", "10.0.0.1:7946", "--cluster-peers", "10.0.0.1:7946,10.0.0.2:7946"}, external...)
	cfg, err := Load(args, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Cluster
	if !c.Enabled() || c.Name != "orders" || len(c.Peers) != 2 || c.Remote() != "10.0.0.1:7947" || cfg.Scylla.OutboxShards != DefaultOutboxShards {
		t.Errorf("cluster %+v remote %q shards %d", c, c.Remote(), cfg.Scylla.OutboxShards)
	}
	cfg, err = Load(append(args, "--outbox-shards", "3", "--cluster-remote-addr", "10.0.0.1:9000"), env(nil), io.Discard)
	if err != nil || cfg.Scylla.OutboxShards != 3 || cfg.Cluster.Remote() != "10.0.0.1:9000" {
		t.Errorf("shards %d remote %q: %v", cfg.Scylla.OutboxShards, cfg.Cluster.Remote(), err)
	}
	if d := Default(); d.Cluster.Enabled() || d.Scylla.OutboxShards != 0 {
		t.Errorf("the default node is in cluster mode: %+v", d.Cluster)
	}
}

func TestClusterBadSettings(t *testing.T) {
	named := []string{"--cluster-name", "orders", "--cluster-addr", "10.0.0.1:7946"}
	for _, tc := range []struct {
		args  []string
		field string
	}{
		{[]string{"--cluster-addr", "10.0.0.1:7946"}, "cluster-name"},
		{named, "cluster-name"}, // embedded store and broker
		{append(append([]string{"--source", "poll"}, named...), external...), "source"},
		{append(append([]string{"--outbox-shards", "0"}, named...), external...), "outbox-shards"},
		{append([]string{"--cluster-name", "orders", "--cluster-addr", ":7946"}, external...), "cluster-addr"},
		{append(append([]string{"--cluster-remote-addr", "127.0.0.1:8090"}, named...), external...), "cluster-remote-addr"},
	} {
		_, err := Load(tc.args, env(nil), io.Discard)
		found := false
		for _, e := range unwrapAll(err) {
			var inv *InvalidError
			if errors.As(e, &inv) && inv.Field == tc.field {
				found = true
			}
		}
		if !found {
			t.Errorf("%v: %v, want an error on %s", tc.args, err, tc.field)
		}
	}
}

// unwrapAll lists the errors errors.Join put together.
func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
