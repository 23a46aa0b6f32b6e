package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLevelsInLowerCase(t *testing.T) {
	var out bytes.Buffer
	log := New(&out, slog.LevelDebug).With(ComponentKey, "miniscylla")
	log.Debug("d")
	log.Info("i")
	log.Warn("w")
	log.Error("e")
	log.Log(t.Context(), slog.LevelWarn+2, "between")
	for _, want := range []string{"level=debug msg=d component=miniscylla", "level=info msg=i", "level=warn msg=w", "level=error msg=e", "level=warn+2 msg=between"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseLevel(t *testing.T) {
	for s, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if l, err := ParseLevel(s); err != nil || l != want {
			t.Errorf("ParseLevel(%q) = %v, %v", s, l, err)
		}
	}
	for _, bad := range []string{"INFO", "loud", "", "warn+1"} {
		if _, err := ParseLevel(bad); err == nil {
			t.Errorf("ParseLevel(%q) accepted", bad)
		}
	}
}
