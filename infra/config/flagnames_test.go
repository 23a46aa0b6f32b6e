package config

import (
	"slices"
	"strings"
	"testing"
)

// TestFlagNamesAreLoadsFlags: FlagNames lists exactly the flags the help
// of Load prints, sorted, the env-less password file included.
func TestFlagNamesAreLoadsFlags(t *testing.T) {
	var help strings.Builder
	if _, err := Load([]string{"-h"}, func(string) string { return "" }, &help); err == nil {
		t.Fatal("Load -h returned no error")
	}
	var fromHelp []string
	for _, line := range strings.Split(help.String(), "\n") {
		if name, ok := strings.CutPrefix(line, "  -"); ok {
			name, _, _ = strings.Cut(name, " ")
			fromHelp = append(fromHelp, name)
		}
	}
	names := FlagNames()
	if !slices.Equal(names, fromHelp) {
		t.Errorf("FlagNames() = %q\nhelp lists  %q", names, fromHelp)
	}
	if !slices.IsSorted(names) || !slices.Contains(names, "scylla-password-file") || !slices.Contains(names, "tablets") {
		t.Errorf("FlagNames() = %q: not sorted or incomplete", names)
	}
}
