package config

import (
	"errors"
	"io"
	"testing"
)

func TestTracingFlagsAndEnv(t *testing.T) {
	cfg, err := Load([]string{"--otel-sample-ratio=0.25"},
		env(map[string]string{"OUTBOX_OTEL_ENDPOINT": "http://127.0.0.1:4318"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tracing.Endpoint != "http://127.0.0.1:4318" || cfg.Tracing.SampleRatio != 0.25 || !cfg.Tracing.Enabled() {
		t.Errorf("tracing %+v", cfg.Tracing)
	}
	if d := Default().Tracing; d.Enabled() || d.SampleRatio != 1 {
		t.Errorf("default tracing %+v: want off, ratio 1", d)
	}
}

func TestTracingValidation(t *testing.T) {
	for name, args := range map[string][]string{
		"no scheme":   {"--otel-endpoint=localhost:4318"},
		"grpc scheme": {"--otel-endpoint=grpc://localhost:4317"},
		"ratio > 1":   {"--otel-sample-ratio=2"},
	} {
		_, err := Load(args, env(nil), io.Discard)
		var invalid *InvalidError
		if !errors.As(err, &invalid) || invalid.Field != "otel" {
			t.Errorf("%s: %v, want an otel InvalidError", name, err)
		}
	}
}
