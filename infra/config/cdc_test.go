package config

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestCDCFlagsAndConfidenceDefault(t *testing.T) {
	cfg, err := Load([]string{"--cdc-in-flight=10", "--cdc-lag-share=0.25"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Relay.CDC.InFlight != 10 || cfg.Relay.CDC.LagShare != 0.25 {
		t.Errorf("cdc %+v", cfg.Relay.CDC)
	}
	if got := cfg.CDCConfidenceWindow(); got != 500*time.Millisecond {
		t.Errorf("embedded confidence window %s", got)
	}
	cfg.Scylla.Hosts = []string{"db:9042"}
	if got := cfg.CDCConfidenceWindow(); got != 5*time.Second {
		t.Errorf("cluster confidence window %s", got)
	}
	cfg.Relay.CDC.ConfidenceWindow = time.Second
	if got := cfg.CDCConfidenceWindow(); got != time.Second {
		t.Errorf("set confidence window %s", got)
	}
}

func TestCDCBadSettings(t *testing.T) {
	for _, args := range [][]string{
		{"--cdc-in-flight=0"}, {"--cdc-lag-share=1.5"}, {"--cdc-poll-delay=0s"}, {"--cdc-confidence-window=-1s"},
	} {
		_, err := Load(args, func(string) string { return "" }, io.Discard)
		var inv *InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
