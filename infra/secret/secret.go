// Package secret holds the credentials of the data path (the store
// password, the Kafka SASL password, the embedded servers' users) so that
// no config dump, log line, error or /health answer can show them, and
// loads each of them the one way every binary does: from the first line of
// a file or from an environment variable, never both.
package secret

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Redacted stands in for a set Secret wherever it would be printed.
const Redacted = "[redacted]"

// Secret is a credential. Every way of printing it (String, GoString, any
// fmt verb, slog, text encoders) shows Redacted, or nothing when it is
// empty, so a config that is logged, dumped or wrapped in an error cannot
// leak it; Reveal gives the value to the one place that sends it.
type Secret string

// String returns Redacted, or "" for the empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString redacts %#v.
func (s Secret) GoString() string { return s.String() }

// Format redacts every fmt verb (%x and %q included).
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts the secret in JSON and other encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the credential itself, for the driver that sends it.
func (s Secret) Reveal() string { return string(s) }

// ErrBothSet is returned by Load when the file and the environment
// variable are both set: neither silently wins.
var ErrBothSet = errors.New("secret set twice")

// ErrEmpty is returned by Load when the file's first line is empty.
var ErrEmpty = errors.New("secret file is empty")

// Load returns the secret from file (its first line, without the line
// ending) or from the environment variable envName (looked up with
// getenv; an empty envName consults no variable and getenv may be nil). Neither set is the empty
// secret; both set is ErrBothSet. Errors name the file and the variable,
// never the content.
func Load(file, envName string, getenv func(string) string) (Secret, error) {
	var env string
	if envName != "" {
		env = getenv(envName)
	}
	switch {
	case file != "" && env != "":
		return "", fmt.Errorf("%w: the file %s and %s are both set, set one", ErrBothSet, file, envName)
	case env != "":
		return Secret(env), nil
	case file == "":
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSuffix(line, "\r"); line == "" {
		return "", fmt.Errorf("%w: %s", ErrEmpty, file)
	}
	return Secret(line), nil
}
