// Package cliflags holds the command-line conventions outboxctl and
// devstack share on github.com/urfave/cli/v3, so that their flags read like
// the node's: every flag has an OUTBOX_* environment variable (--remote-addr
// is OUTBOX_REMOTE_ADDR) that a flag on the command line overrides, a bad
// command line is a UsageError (exit 2) with one line saying what is wrong,
// and a listen address that cannot be used names the flag to change.
package cliflags

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/urfave/cli/v3"
)

// EnvPrefix prefixes the environment variable of every flag.
const EnvPrefix = "OUTBOX_"

// EnvName returns the environment variable of flag: EnvPrefix and the name
// in upper case with "-" as "_".
func EnvName(flag string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Env returns the value source of flag's environment variable, looked up
// with getenv (os.Getenv, or a map in tests). An empty value counts as
// unset, as on the node.
func Env(getenv func(string) string, flag string) cli.ValueSourceChain {
	return EnvKey(getenv, EnvName(flag))
}

// EnvKey is Env for a variable named key, for the few flags whose variable
// is another tool's convention.
func EnvKey(getenv func(string) string, key string) cli.ValueSourceChain {
	return cli.NewValueSourceChain(&envSource{key: key, getenv: getenv})
}

// envSource is one environment variable read through getenv; it is an
// EnvValueSource so that help shows the variable.
type envSource struct {
	key    string
	getenv func(string) string
}

func (e *envSource) Lookup() (string, bool) {
	v := e.getenv(e.key)
	return v, v != ""
}

func (e *envSource) IsFromEnv() bool  { return true }
func (e *envSource) Key() string      { return e.key }
func (e *envSource) String() string   { return "environment variable " + e.key }
func (e *envSource) GoString() string { return fmt.Sprintf("&envSource{key:%q}", e.key) }

// UsageError is a bad command line: nothing was done.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// Run runs cmd with args (the program name first) the way every binary
// here does: the library's own parse errors become UsageErrors instead of a
// help page, and so does any error before a command's action started (a bad
// value from the environment, a failed flag validator); errors are returned
// instead of ending the process, so that main picks the exit code. A command
// group run without a subcommand, or with an unknown one, is a usage error
// too.
func Run(ctx context.Context, cmd *cli.Command, args []string) error {
	started := false
	cmd.ExitErrHandler = func(context.Context, *cli.Command, error) {}
	cmd.HideHelpCommand = true
	prepare(cmd, &started)
	err := cmd.Run(ctx, args)
	var usage *UsageError
	if err != nil && !started && !errors.As(err, &usage) {
		return &UsageError{Err: err}
	}
	return err
}

func prepare(cmd *cli.Command, started *bool) {
	cmd.OnUsageError = func(_ context.Context, c *cli.Command, err error, _ bool) error {
		return &UsageError{Err: fmt.Errorf("%s%w", where(c), err)}
	}
	if act := cmd.Action; act != nil {
		cmd.Action = func(ctx context.Context, c *cli.Command) error {
			*started = true
			return act(ctx, c)
		}
	} else if len(cmd.Commands) > 0 {
		cmd.Action = func(_ context.Context, c *cli.Command) error {
			names := make([]string, 0, len(c.Commands))
			for _, s := range c.Commands {
				names = append(names, s.Name)
			}
			if c.NArg() == 0 {
				return Usagef("%smissing command, want one of %s (-h for help)", where(c), strings.Join(names, ", "))
			}
			return Usagef("%sunknown command %q, want one of %s (-h for help)", where(c), c.Args().First(), strings.Join(names, ", "))
		}
	}
	for _, sub := range cmd.Commands {
		prepare(sub, started)
	}
}

// Args returns c's positional arguments, requiring exactly one per name
// (none when names is empty); the error names what is wanted.
func Args(c *cli.Command, names ...string) ([]string, error) {
	got := c.Args().Slice()
	switch {
	case len(got) == len(names):
		return got, nil
	case len(names) == 0:
		return nil, Usagef("%stakes no arguments, got %q", where(c), got)
	default:
		return nil, Usagef("%swant %s, got %d argument(s)", where(c), strings.Join(names, " "), len(got))
	}
}

// where prefixes a message about c with its command words ("dlq replay: "),
// none for the program itself, whose name the caller prints.
func where(c *cli.Command) string {
	words := strings.Fields(c.FullName())
	if len(words) < 2 {
		return ""
	}
	return strings.Join(words[1:], " ") + ": "
}

// ListenError names the flag to change when err comes from listening on
// the address of flag; such an error (port busy, address not local) is a
// UsageError. Other errors are returned as they are.
func ListenError(err error, flag string) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "listen" {
		return &UsageError{Err: ChangeFlag(err, flag)}
	}
	return err
}

// ChangeFlag adds to err which flag the user should change.
func ChangeFlag(err error, flag string) error {
	return fmt.Errorf("%w (change --%s)", err, flag)
}
