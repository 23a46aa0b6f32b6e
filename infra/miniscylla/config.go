package miniscylla

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/outboxnode/outbox/infra/miniscylla/wal"
)

// Defaults of Config.
const (
	DefaultAddr = "127.0.0.1:9042"
	// DefaultMaxFrameSize matches ScyllaDB's native_transport_max_frame_size_in_mb (256 MiB).
	DefaultMaxFrameSize = 256 << 20
	// DefaultMaxConcurrentRequests bounds the requests one connection runs at once;
	// further frames wait in the socket, which is the back-pressure a driver expects.
	DefaultMaxConcurrentRequests = 256
	// DefaultMaxInFlightBytes bounds the request frames held in memory at
	// once across all connections (ScyllaDB bounds the same, per shard).
	DefaultMaxInFlightBytes = 256 << 20
	// DefaultHandshakeTimeout bounds TLS, STARTUP and authentication.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultFrameTimeout bounds the arrival of a frame's header, then of its body.
	DefaultFrameTimeout = 30 * time.Second
)

// handshakeFrameMax is the largest frame accepted before a connection is
// ready (STARTUP done, and authenticated when Users is set): OPTIONS,
// STARTUP and AUTH_RESPONSE are a few hundred bytes, so a client that has
// not logged in cannot make the server hold large buffers.
const handshakeFrameMax = 64 << 10

// DataSubdir is the store's directory inside a binary's --data-dir: the
// node and devstack both keep the write-ahead log in <data-dir>/miniscylla.
const DataSubdir = "miniscylla"

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
	// MaxInFlightBytes bounds the bytes of request frames (bodies, and their
	// decompressed form) held at once across all connections, from the
	// moment a frame's header is read until its response is queued. A
	// connection whose next frame does not fit stops being read until
	// enough is released. A quarter of it (at most 16 MiB) is kept for
	// frames of 64 KiB or less, so a frame larger than the rest (240 MiB
	// by default) gets a PROTOCOL_ERROR and its connection is closed.
	// Default DefaultMaxInFlightBytes.
	MaxInFlightBytes int
	// HandshakeTimeout bounds the time from accept until the connection is
	// ready (TLS handshake, STARTUP, authentication); the connection is
	// closed when it runs out. Default DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// FrameTimeout bounds the time from a frame's first byte to the end of
	// its header, and from the server starting to read its body (after any
	// wait for MaxInFlightBytes) to the body's end; an idle connection
	// between frames is not bounded. A client trickling a frame thus cannot
	// hold its reservation or a reader forever: the connection is closed
	// when it runs out. At 256 MiB the default asks for about 9 MB/s.
	// Default DefaultFrameTimeout.
	FrameTimeout time.Duration
	// Users, when not empty, turns on password authentication
	// (PasswordAuthenticator, SASL PLAIN): a connection must log in as one of
	// these users before any statement. Empty allows every client, as
	// ScyllaDB's AllowAllAuthenticator does.
	Users Credentials
	// TLS, when set, makes the CQL port TLS-only (infra/tlsfiles.Server
	// builds it from PEM files).
	TLS *tls.Config
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

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
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
	if c.MaxInFlightBytes == 0 {
		c.MaxInFlightBytes = DefaultMaxInFlightBytes
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.FrameTimeout == 0 {
		c.FrameTimeout = DefaultFrameTimeout
	}
}

// frameLimit is the largest frame body a ready connection may send: at
// most what the in-flight budget can ever grant (budget.largest).
func (c Config) frameLimit() int {
	return min(c.MaxFrameSize, c.MaxInFlightBytes-int(budgetReserve(int64(c.MaxInFlightBytes))))
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
	if c.MaxInFlightBytes < 1024 {
		return &ConfigError{Field: "MaxInFlightBytes", Reason: fmt.Sprintf("%d is below 1 KiB", c.MaxInFlightBytes)}
	}
	if c.HandshakeTimeout < 0 || c.FrameTimeout < 0 {
		return &ConfigError{Field: "HandshakeTimeout/FrameTimeout", Reason: "must not be negative"}
	}
	if _, err := wal.ParseRecovery(c.WALRecovery); err != nil {
		return &ConfigError{Field: "WALRecovery", Reason: err.Error()}
	}
	return c.Users.validate()
}

// String renders the configuration without secrets: user names but no
// passwords, and whether TLS is on but not its keys.
func (c Config) String() string {
	return fmt.Sprintf("{Addr:%s DataDir:%q WALRecovery:%s MaxFrameSize:%d MaxConcurrentRequests:%d MaxInFlightBytes:%d HandshakeTimeout:%s FrameTimeout:%s Users:%s TLS:%t}",
		c.Addr, c.DataDir, c.WALRecovery, c.MaxFrameSize, c.MaxConcurrentRequests, c.MaxInFlightBytes, c.HandshakeTimeout, c.FrameTimeout, c.Users, c.TLS != nil)
}
