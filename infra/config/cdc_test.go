package config

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestCDCFlags(t *testing.T) {
	cfg, err := Load([]string{"--cdc-in-flight=10", "--cdc-lag-share=0.25"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Relay.CDC.InFlight != 10 || cfg.Relay.CDC.LagShare != 0.25 {
		t.Errorf("cdc %+v", cfg.Relay.CDC)
	}
}

// TestConfidenceWindowFollowsTimestamps: the default window is the small
// one exactly when the store stamps the node's writes.
func TestConfidenceWindowFollowsTimestamps(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		server bool
		window time.Duration
	}{
		{nil, true, ServerTimestampsConfidenceWindow},
		{[]string{"--scylla-server-timestamps=false"}, false, ClientTimestampsConfidenceWindow},
		{[]string{"--scylla-hosts=db:9042"}, false, ClientTimestampsConfidenceWindow},
		{[]string{"--scylla-hosts=db:9042", "--scylla-server-timestamps"}, true, ServerTimestampsConfidenceWindow},
		{[]string{"--cdc-confidence-window=1s"}, true, time.Second},
	} {
		cfg, err := Load(tc.args, func(string) string { return "" }, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := cfg.Scylla.UseServerTimestamps(); got != tc.server {
			t.Errorf("%v: server timestamps %v, want %v", tc.args, got, tc.server)
		}
		if got := cfg.CDCConfidenceWindow(); got != tc.window {
			t.Errorf("%v: confidence window %s, want %s", tc.args, got, tc.window)
		}
	}
}

func TestCDCBadSettings(t *testing.T) {
	for _, args := range [][]string{
		{"--cdc-in-flight=0"}, {"--cdc-lag-share=1.5"}, {"--cdc-poll-delay=0s"}, {"--cdc-confidence-window=-1s"},
		{"--scylla-hosts=a:9042,b:9042", "--scylla-server-timestamps"},
	} {
		_, err := Load(args, func(string) string { return "" }, io.Discard)
		var inv *InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
