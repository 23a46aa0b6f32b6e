package config

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestPollSourceFlags(t *testing.T) {
	cfg, err := Load([]string{"--source=poll", "--poll-interval=1s", "--poll-safety-lag=7s"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Relay.Source != SourcePoll || cfg.Relay.Poll.Interval != time.Second || cfg.Relay.Poll.SafetyLag != 7*time.Second {
		t.Errorf("relay source %q, poll %+v", cfg.Relay.Source, cfg.Relay.Poll)
	}
	if d := Default(); d.Relay.Source != SourceCDC || d.Validate() != nil {
		t.Errorf("default source %q: %v", d.Relay.Source, d.Validate())
	}
}

func TestPollSourceBadSettings(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		field string
	}{
		{[]string{"--source=kafka"}, "source"},
		// A commit can take up to --scylla-timeout to land: a shorter lag skips it.
		{[]string{"--source=poll", "--scylla-timeout=6s"}, "poll-safety-lag"},
		{[]string{"--source=poll", "--poll-safety-lag=2s", "--scylla-timeout=2s"}, "poll-safety-lag"},
		{[]string{"--poll-interval=0s"}, "poll-interval"},
	} {
		_, err := Load(tc.args, env(nil), io.Discard)
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("%v: %v, want an error on %s", tc.args, err, tc.field)
		}
	}
}
