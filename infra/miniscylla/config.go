package miniscylla

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/outboxnode/outbox/infra/miniscylla/wal"
)

// Defaults used by Config.setDefaults.
const (
	DefaultAddr = "127.0.0.1:9042"
	// DefaultMaxFrameSize matches ScyllaDB's native_transport_max_frame_size_in_mb (256 MiB).
	DefaultMaxFrameSize = 256 << 20
	// DefaultMaxConcurrentRequests bounds the requests one connection runs at once;
	// further frames wait in the socket, which is the back-pressure a driver expects.
	DefaultMaxConcurrentRequests = 256
)

// Config configures a Server. The zero value is valid: every field has a default.
type Config struct {
	// Addr is the TCP address to listen on; port 0 picks a free port. Default DefaultAddr.
	Addr string
	// DataDir, when set, makes the server durable: every acknowledged write
	// (schema, data, CDC log rows, the CDC generation) is fsynced to a
	// write-ahead log there first and recovered at the next start. Empty
	// keeps everything in memory only. The directory is created if missing;
	// one server at a time may use it.
	DataDir string
	// WALRecovery is what a start does with damage in the middle of the
	// write-ahead log: "strict" (the default) refuses to start, naming the
	// damage; "salvage" drops the damaged bytes and keeps every intact
	// record (package wal). A torn tail is cut in either mode.
	WALRecovery string
	// Logger receives connection-level diagnostics. Default: discard.
	Logger *slog.Logger
	// MaxFrameSize is the largest frame body accepted (after decompression too).
	// A larger frame gets a PROTOCOL_ERROR and its connection is closed.
	MaxFrameSize int
	// MaxConcurrentRequests bounds the requests executed at once per connection.
	MaxConcurrentRequests int
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string
	Reason string
}

// Error returns "miniscylla config: <field>: <reason>".
func (e *ConfigError) Error() string {
	return fmt.Sprintf("miniscylla config: %s: %s", e.Field, e.Reason)
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxFrameSize == 0 {
		c.MaxFrameSize = DefaultMaxFrameSize
	}
	if c.MaxConcurrentRequests == 0 {
		c.MaxConcurrentRequests = DefaultMaxConcurrentRequests
	}
}

// Validate reports the first invalid field as a *ConfigError.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return &ConfigError{Field: "Addr", Reason: err.Error()}
	}
	if c.MaxFrameSize < 1024 || c.MaxFrameSize > 1<<30 {
		return &ConfigError{Field: "MaxFrameSize", Reason: fmt.Sprintf("%d outside [1 KiB, 1 GiB]", c.MaxFrameSize)}
	}
	if c.MaxConcurrentRequests < 1 {
		return &ConfigError{Field: "MaxConcurrentRequests", Reason: "must be at least 1"}
	}
	if _, err := wal.ParseRecovery(c.WALRecovery); err != nil {
		return &ConfigError{Field: "WALRecovery", Reason: err.Error()}
	}
	return nil
}
