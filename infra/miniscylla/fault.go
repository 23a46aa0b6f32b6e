package miniscylla

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/outboxnode/outbox/infra/miniscylla/engine"
)

// faulter is the handler's optional write-fault switch (engine/fault.go).
type faulter interface {
	FailWrites(keyspace, table string)
	HealWrites()
	FailedWrites() int64
}

var _ faulter = (*engine.Engine)(nil)

// FailWrites makes every later write request that touches keyspace.table
// fail at the server with a server error, nothing of it applied (a whole
// LOGGED BATCH included), until HealWrites: a fault injected for tests of
// what clients do when the store refuses a write it has received.
func (s *Server) FailWrites(keyspace, table string) {
	if f, ok := s.eng.(faulter); ok {
		f.FailWrites(keyspace, table)
	}
}

// HealWrites ends every FailWrites.
func (s *Server) HealWrites() {
	if f, ok := s.eng.(faulter); ok {
		f.HealWrites()
	}
}

// FailedWrites is the number of write requests refused by FailWrites.
func (s *Server) FailedWrites() int64 {
	if f, ok := s.eng.(faulter); ok {
		return f.FailedWrites()
	}
	return 0
}

// ServeFaults serves the write-fault switch over HTTP on addr, which must be
// a loopback address (the switch has no authentication), for tests that
// drive a server in another process:
//
//	POST /fail-writes?table=<keyspace>.<table>  FailWrites
//	POST /heal-writes                           HealWrites
//	GET  /failed-writes                         FailedWrites, as a decimal line
//
// It returns the address it listens on (the real port when addr has port 0)
// and a function that stops serving.
func (s *Server) ServeFaults(ctx context.Context, addr string) (string, func() error, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("miniscylla fault switch: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("miniscylla fault switch: %s is not a loopback address", addr)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("miniscylla fault switch: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /fail-writes", func(w http.ResponseWriter, r *http.Request) {
		ks, table, ok := strings.Cut(r.URL.Query().Get("table"), ".")
		if !ok || ks == "" || table == "" {
			http.Error(w, "table=<keyspace>.<table> is required", http.StatusBadRequest)
			return
		}
		s.FailWrites(ks, table)
		s.log.Warn("miniscylla failing writes (injected fault)", "keyspace", ks, "table", table)
	})
	mux.HandleFunc("POST /heal-writes", func(http.ResponseWriter, *http.Request) {
		s.HealWrites()
		s.log.Info("miniscylla writes healed")
	})
	mux.HandleFunc("GET /failed-writes", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, s.FailedWrites())
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return ln.Addr().String(), hs.Close, nil
}
