package main

import (
	"slices"
	"testing"
)

func TestParseDemo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		n    int
		rest []string
		bad  bool
	}{
		{args: []string{"--log-level", "debug"}, rest: []string{"--log-level", "debug"}},
		{args: []string{"--demo", "5", "--log-level", "warn"}, n: 5, rest: []string{"--log-level", "warn"}},
		{args: []string{"-demo=7"}, n: 7, rest: []string{}},
		{args: []string{"demo"}, rest: []string{"demo"}},
		{args: []string{"--demo"}, bad: true},
		{args: []string{"--demo", "zero"}, bad: true},
		{args: []string{"--demo=0"}, bad: true},
	} {
		n, rest, err := parseDemo(tc.args)
		if (err != nil) != tc.bad {
			t.Errorf("%v: err %v", tc.args, err)
			continue
		}
		if !tc.bad && (n != tc.n || !slices.Equal(rest, tc.rest)) {
			t.Errorf("%v: got %d %v, want %d %v", tc.args, n, rest, tc.n, tc.rest)
		}
	}
}

func TestRunRejectsBadDemoFlag(t *testing.T) {
	if code := run([]string{"--demo", "-1"}, func(string) string { return "" }, discard{}, discard{}); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
