package main

import "testing"

func TestRunRejectsBadDemoFlag(t *testing.T) {
	for _, args := range [][]string{{"--demo", "-1"}, {"--demo=0"}, {"--demo", "zero"}, {"--demo"}} {
		if code := run(args, noEnv, discard{}, discard{}); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
