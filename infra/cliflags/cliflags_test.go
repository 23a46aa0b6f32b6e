package cliflags

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

// runWith runs a one-flag command (--remote-addr, default "d") over env.
func runWith(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var got string
	cmd := &cli.Command{
		Name: "prog",
		Flags: []cli.Flag{&cli.StringFlag{Name: "remote-addr", Value: "d", Destination: &got,
			Sources: Env(func(k string) string { return env[k] }, "remote-addr")}},
		Commands: []*cli.Command{{Name: "go", ArgsUsage: "X", Action: func(_ context.Context, c *cli.Command) error {
			_, err := Args(c, "X")
			return err
		}}},
	}
	err := Run(context.Background(), cmd, append([]string{"prog"}, args...))
	return got, err
}

func TestEnvAndFlag(t *testing.T) {
	env := map[string]string{"OUTBOX_REMOTE_ADDR": "from-env"}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"go", "x"}, "d"},
		{map[string]string{"OUTBOX_REMOTE_ADDR": ""}, []string{"go", "x"}, "d"}, // empty counts as unset
		{env, []string{"go", "x"}, "from-env"},
		{env, []string{"--remote-addr", "from-flag", "go", "x"}, "from-flag"},
		{env, []string{"go", "x", "--remote-addr", "from-flag"}, "from-flag"},
	} {
		got, err := runWith(t, tc.env, tc.args...)
		if err != nil || got != tc.want {
			t.Errorf("env %v args %q: %q, %v; want %q", tc.env, tc.args, got, err, tc.want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string
	}{
		{nil, "missing command, want one of go"},
		{[]string{"stop"}, `unknown command "stop"`},
		{[]string{"--bogus", "go", "x"}, "flag provided but not defined: -bogus"},
		{[]string{"go", "x", "--bogus"}, "go: flag provided but not defined: -bogus"},
		{[]string{"go"}, "go: want X, got 0 argument(s)"},
	} {
		_, err := runWith(t, nil, tc.args...)
		var usage *UsageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q: %v, want a UsageError saying %q", tc.args, err, tc.says)
		}
	}
}

func TestListenError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, lerr := net.Listen("tcp", busy.Addr().String())
	err = ListenError(lerr, "listen")
	var usage *UsageError
	if !errors.As(err, &usage) || !strings.HasSuffix(err.Error(), "address already in use (change --listen)") {
		t.Fatalf("busy port: %v, want a UsageError naming --listen", err)
	}
	other := errors.New("wal: create data dir: not a directory")
	if got := ListenError(other, "listen"); got != other {
		t.Fatalf("a non-listen error became %v", got)
	}
}
