package config

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/outboxnode/outbox/actors/publisher"
)

func TestPublishFlagsAndEnv(t *testing.T) {
	cfg, err := Load(
		[]string{"--publish-max-batch=50", "--publish-drain-timeout=2s"},
		env(map[string]string{
			"OUTBOX_PUBLISH_LINGER":        "7ms",
			"OUTBOX_PUBLISH_PAUSE_DELAY":   "250ms",
			"OUTBOX_PUBLISH_DRAIN_TIMEOUT": "9s", // the flag wins
		}),
		io.Discard,
	)
	if err != nil {
		t.Fatal(err)
	}
	want := publisher.Config{MaxBatch: 50, Linger: 7 * time.Millisecond, PauseDelay: 250 * time.Millisecond, DrainTimeout: 2 * time.Second}
	if got := cfg.Relay.Publish; got != want {
		t.Errorf("publish %+v, want %+v", got, want)
	}
}

func TestPublishBadSettings(t *testing.T) {
	for _, tt := range []struct {
		args  []string
		field string
	}{
		{[]string{"--publish-max-batch=0"}, "publish-max-batch"},
		{[]string{"--publish-linger=0s"}, "publish-linger"},
		{[]string{"--publish-pause-delay=-1s"}, "publish-pause-delay"},
		{[]string{"--publish-drain-timeout=0s"}, "publish-drain-timeout"},
		{[]string{"--publish-drain-timeout=30s", "--shutdown-timeout=30s"}, "publish-drain-timeout"},
	} {
		_, err := Load(tt.args, env(nil), io.Discard)
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != tt.field {
			t.Errorf("%v: got %v, want an InvalidError on %s", tt.args, err, tt.field)
		}
	}
}
