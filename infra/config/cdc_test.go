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
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want time.Duration
	}{
		{"embedded", nil, nil, cdc.DefaultConfidenceWindow},
		{"cluster", []string{"--scylla-hosts", "db:9042"}, nil, cdc.DefaultClusterConfidenceWindow},
		{"cluster, flag", []string{"--scylla-hosts", "db:9042", "--cdc-confidence-window", "1s"}, nil, time.Second},
		{"cluster, env", []string{"--scylla-hosts", "db:9042"}, map[string]string{"OUTBOX_CDC_CONFIDENCE_WINDOW": "2s"}, 2 * time.Second},
	} {
		cfg, err := Load(tc.args, env(tc.env), io.Discard)
		if err != nil || cfg.Relay.CDC.ConfidenceWindow != tc.want {
			t.Errorf("%s: confidence window %s, want %s (err %v)", tc.name, cfg.Relay.CDC.ConfidenceWindow, tc.want, err)
		}
	}
}

func TestCDCBadSettings(t *testing.T) {
	for _, args := range [][]string{
		{"--cdc-in-flight=0"}, {"--cdc-lag-share=1.5"}, {"--cdc-poll-delay=0s"}, {"--cdc-confidence-window=-1s"}, {"--cdc-confidence-window=0s"},
	} {
		_, err := Load(args, env(nil), io.Discard)
		var inv *InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
