// Package miniscylla is the in-process stand-in for ScyllaDB in the data
// path: it speaks CQL native protocol v4 on a TCP port so the real drivers
// (gocql/gocqlx, scylla-cdc-go, the DataStax Python driver) talk to it as to
// a single-node Scylla. This package owns sockets, frames, the handshake and
// event pushes; package engine executes the statements.
//
// What a client sees:
//   - Only protocol v4. Any other version byte gets a PROTOCOL_ERROR framed
//     in the client's own version ("Invalid or unsupported protocol version
//     (5); the lowest supported version is 4 and the greatest is 4"), after
//     which gocql and the Python driver retry with v4; the connection closes.
//   - OPTIONS -> SUPPORTED (CQL 3.3.1, lz4 and snappy, the Scylla LWT marker),
//     STARTUP -> READY (compression starts with the next frame),
//     REGISTER -> READY, then SCHEMA_CHANGE events on stream -1 for every DDL.
//     QUERY, PREPARE, EXECUTE and BATCH go to the engine after STARTUP.
//   - With Config.Users, STARTUP -> AUTHENTICATE (PasswordAuthenticator) and
//     the client must log in with SASL PLAIN (AUTH_RESPONSE -> AUTH_SUCCESS,
//     or AUTHENTICATION_ERROR "Username and/or password are incorrect")
//     before anything but OPTIONS; system_auth.roles lists the users
//     (auth.go). With Config.TLS the port speaks TLS only (tls.go).
//   - Until a connection is ready it may send frames of 64 KiB at most and
//     must get ready within Config.HandshakeTimeout. A frame's header, then
//     its body, must each arrive within Config.FrameTimeout; the body is counted
//     against Config.MaxInFlightBytes, shared by all connections, until its
//     response is queued (budget.go).
//   - Requests on one connection run concurrently, at most
//     Config.MaxConcurrentRequests at a time; beyond that the server stops
//     reading the socket until a request finishes.
//   - A frame that cannot be framed (bad version, a length above
//     Config.MaxFrameSize or negative) gets a PROTOCOL_ERROR and closes its
//     connection; a well-framed but bad body (unknown opcode, malformed or
//     lying length prefixes, bad compression) gets a PROTOCOL_ERROR on its
//     stream and the connection goes on. Other connections are unaffected.
//   - With Config.DataDir, a write (or schema change) is acknowledged only
//     after its write-ahead log record is fsynced, a read's result only once
//     what it saw is, and a restart (even after kill -9) recovers them all,
//     with the same CDC generation (engine/durable.go, package wal).
package miniscylla

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"

	"github.com/outboxnode/outbox/infra/miniscylla/engine"
	"github.com/outboxnode/outbox/infra/miniscylla/wal"
)

// Server is a running CQL server. Close it to release the port, the
// connections and every goroutine it started.
type Server struct {
	cfg Config
	log *slog.Logger
	ln  net.Listener
	eng handler
	// auth checks logins; nil when Config.Users is empty.
	auth *authenticator
	// budget bounds the request bytes in flight across connections.
	budget *budget

	// ctx is cancelled by Close; every request context derives from it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool

	closeOnce sync.Once
	closeErr  error
}

// handler executes statements: *engine.Engine, or a stub in tests of the wire layer alone.
type handler interface {
	Handle(ctx context.Context, sess *engine.Session, req message.Message) message.Message
	// HandleTraced is Handle for a frame with the tracing flag; it also
	// returns the trace session id the response frame carries.
	HandleTraced(ctx context.Context, sess *engine.Session, req message.Message, client net.IP) (message.Message, []byte)
	Close() error
}

var _ handler = (*engine.Engine)(nil)

// roleSetter is the handler's optional system_auth.roles table.
type roleSetter interface {
	SetRoles(roles []engine.Role)
}

var _ roleSetter = (*engine.Engine)(nil)

// newHandler builds the handler from the engine configuration the server derived.
type newHandler func(engine.Config) (handler, error)

// Start validates cfg, listens on cfg.Addr and serves until Close. ctx only
// bounds the start-up; the server outlives it.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	return start(ctx, cfg, func(ec engine.Config) (handler, error) {
		eng, err := engine.New(ec)
		if err != nil {
			return nil, err
		}
		return eng, nil
	})
}

func start(ctx context.Context, cfg Config, newH newHandler) (*Server, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	auth, err := newAuthenticator(cfg.Users)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("miniscylla: listen on %s: %w", cfg.Addr, err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, ln: ln, auth: auth, budget: newBudget(int64(cfg.MaxInFlightBytes)), conns: make(map[*conn]struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.eng, err = newH(engine.Config{ListenIP: advertisedIP(ln.Addr()), OnSchemaChange: s.broadcast, Logger: s.log, DataDir: cfg.DataDir, WALRecovery: wal.Recovery(cfg.WALRecovery)})
	if err != nil {
		s.cancel()
		return nil, errors.Join(fmt.Errorf("miniscylla: start engine: %w", err), ln.Close())
	}
	if rs, ok := s.eng.(roleSetter); ok {
		rs.SetRoles(auth.roles())
	}
	s.wg.Add(1)
	go s.acceptLoop()
	s.log.Info("miniscylla listening", "addr", ln.Addr().String(), "tls", cfg.TLS != nil,
		"authenticator", s.authenticatorName(), "max_in_flight_bytes", cfg.MaxInFlightBytes)
	return s, nil
}

// Addr is the address the server listens on, with the real port when Config.Addr had port 0.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening, closes every connection, waits for all the server's
// goroutines and closes the engine. It is idempotent and safe for concurrent use.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		lnErr := s.ln.Close()
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		s.closeErr = errors.Join(lnErr, s.eng.Close())
	})
	return s.closeErr
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			// Typically out of file descriptors: wait rather than spin.
			s.log.Warn("miniscylla accept failed", "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		s.track(nc)
	}
}

// authenticatorName is the authenticator ScyllaDB would report.
func (s *Server) authenticatorName() string {
	if s.auth == nil {
		return "AllowAllAuthenticator"
	}
	return "PasswordAuthenticator"
}

// track registers a new connection and starts serving it, unless the server is closing.
func (s *Server) track(nc net.Conn) {
	if s.cfg.TLS != nil {
		nc = tls.Server(nc, s.cfg.TLS) // the handshake runs in serve, under HandshakeTimeout
	}
	c := newConn(s, nc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// broadcast pushes a schema change to every connection registered for it.
// It never blocks on a slow client: events queue per connection.
func (s *Server) broadcast(ev *message.SchemaChangeEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.pushEvent(ev)
	}
}

// advertisedIP is the IP drivers should dial: the listener's, or loopback
// when listening on all interfaces.
func advertisedIP(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		return "127.0.0.1"
	}
	return tcp.IP.String()
}
