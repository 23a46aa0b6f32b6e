// Package logging builds the text logger of the binaries (outbox-node,
// devstack), so that their stderr lines read alike: level=info in lower
// case, the spelling --log-level takes, and a component's lines tagged
// component=<name>.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// DefaultLevel is the --log-level default.
const DefaultLevel = "info"

// ComponentKey tags the lines of one component (component=miniscylla).
const ComponentKey = "component"

// ParseLevel reads a --log-level value: debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	switch s {
	case "debug", "info", "warn", "error":
		return l, l.UnmarshalText([]byte(s))
	}
	return l, fmt.Errorf("log level %q: want debug, info, warn or error", s)
}

// New returns a logfmt logger on w at level, with levels in lower case.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: lowerLevel}))
}

func lowerLevel(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey && len(groups) == 0 {
		if l, ok := a.Value.Any().(slog.Level); ok {
			a.Value = slog.StringValue(strings.ToLower(l.String()))
		}
	}
	return a
}
