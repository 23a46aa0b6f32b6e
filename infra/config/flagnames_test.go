package config

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/outboxnode/outbox/infra/cliflags"
)

// TestFlagNamesAreLoadsFlags: -h returns ErrHelp after printing every flag
// with its OUTBOX_* variable, and FlagNames lists exactly those flags, sorted.
func TestFlagNamesAreLoadsFlags(t *testing.T) {
	var help strings.Builder
	if _, err := Load([]string{"-h"}, env(nil), &help); !errors.Is(err, ErrHelp) {
		t.Fatalf("Load -h: %v, want ErrHelp", err)
	}
	var fromHelp []string
	for _, line := range strings.Split(help.String(), "\n") {
		name, ok := strings.CutPrefix(strings.TrimSpace(line), "--")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, " ")
		name = strings.TrimSuffix(name, ",")
		if name == "help" {
			continue
		}
		fromHelp = append(fromHelp, name)
		if !strings.Contains(line, "[$"+cliflags.EnvName(name)+"]") {
			t.Errorf("help of --%s does not name %s: %q", name, cliflags.EnvName(name), line)
		}
	}
	slices.Sort(fromHelp)
	names := FlagNames()
	if !slices.Equal(names, fromHelp) {
		t.Errorf("FlagNames() = %q\nhelp lists  %q", names, fromHelp)
	}
	if !slices.IsSorted(names) || !slices.Contains(names, "scylla-password-file") || !slices.Contains(names, "tablets") {
		t.Errorf("FlagNames() = %q: not sorted or incomplete", names)
	}
}
