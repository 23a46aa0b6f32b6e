package config

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/cdc"
)

func TestCDCFlagsAndConfidenceDefault(t *testing.T) {
	cfg, err := Load([]string{"--cdc-in-flight=10", "--cdc-lag-share=0.25"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Relay.CDC.InFlight != 10 || cfg.Relay.Stream.LagShare != 0.25 {
		t.Errorf("cdc %+v, stream %+v", cfg.Relay.CDC, cfg.Relay.Stream)
	}
}

// TestConfidenceWindowFollowsTimestamps: the default window is the small
// one exactly when the store stamps the node's writes; a set window wins.
func TestConfidenceWindowFollowsTimestamps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		server bool
		window time.Duration
	}{
		{"embedded", nil, nil, true, cdc.ServerTimestampsConfidenceWindow},
		{"embedded, client stamps", []string{"--scylla-server-timestamps=false"}, nil, false, cdc.ClientTimestampsConfidenceWindow},
		{"cluster", []string{"--scylla-hosts", "db:9042"}, nil, false, cdc.ClientTimestampsConfidenceWindow},
		{"one host, server stamps", []string{"--scylla-hosts", "db:9042", "--scylla-server-timestamps"}, nil, true, cdc.ServerTimestampsConfidenceWindow},
		{"one host, server stamps by env", []string{"--scylla-hosts", "db:9042"}, map[string]string{"OUTBOX_SCYLLA_SERVER_TIMESTAMPS": "true"}, true, cdc.ServerTimestampsConfidenceWindow},
		{"cluster, flag", []string{"--scylla-hosts", "db:9042", "--cdc-confidence-window", "1s"}, nil, false, time.Second},
		{"cluster, env", []string{"--scylla-hosts", "db:9042"}, map[string]string{"OUTBOX_CDC_CONFIDENCE_WINDOW": "2s"}, false, 2 * time.Second},
	} {
		cfg, err := Load(tc.args, env(tc.env), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := cfg.Scylla.UseServerTimestamps(); got != tc.server {
			t.Errorf("%s: server timestamps %v, want %v", tc.name, got, tc.server)
		}
		if got := cfg.Relay.CDC.ConfidenceWindow; got != tc.window {
			t.Errorf("%s: confidence window %s, want %s", tc.name, got, tc.window)
		}
	}
}

func TestCDCBadSettings(t *testing.T) {
	for _, args := range [][]string{
		{"--cdc-in-flight=0"}, {"--cdc-lag-share=1.5"}, {"--cdc-poll-delay=0s"}, {"--cdc-confidence-window=-1s"}, {"--cdc-confidence-window=0s"},
		{"--scylla-hosts=a:9042,b:9042", "--scylla-server-timestamps"},
	} {
		_, err := Load(args, env(nil), io.Discard)
		var inv *InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
