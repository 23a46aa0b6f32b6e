package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/outboxnode/outbox/messages"
)

// HealthSource returns the current health report, typically by asking the
// Health actor. It must honour ctx's deadline.
type HealthSource func(ctx context.Context) (*messages.HealthReport, error)

// Server serves /metrics and /health. Create it with NewServer, then
// Start (or Listen early and Serve later); Shutdown stops it.
type Server struct {
	mux     *http.ServeMux
	srv     *http.Server
	ln      net.Listener
	serving bool
	logger  *slog.Logger
}

// NewServer builds the handlers: /metrics from gatherer, /health from
// health, each /health request bounded by healthTimeout.
func NewServer(addr string, gatherer prometheus.Gatherer, health HealthSource, healthTimeout time.Duration, logger *slog.Logger) *Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError)}))
	mux.Handle("GET /health", healthHandler(health, healthTimeout, logger))
	return &Server{
		mux:    mux,
		srv:    &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		logger: logger,
	}
}

// ServePprof adds net/http/pprof's handlers under /debug/pprof/, for
// profiling a running node (--pprof); call it before Serve.
func (s *Server) ServePprof() {
	s.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	s.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}

// Start binds the address and serves in the background.
func (s *Server) Start() error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.Serve()
	return nil
}

// Listen binds the address, so that a busy port fails start-up early,
// before anything is served.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return fmt.Errorf("metrics server listen %s: %w", s.srv.Addr, err)
	}
	s.ln = ln
	return nil
}

// Serve serves on the address bound by Listen, in the background.
func (s *Server) Serve() {
	s.serving = true
	go func() {
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("metrics server stopped", "err", err)
		}
	}()
}

// Addr returns the bound address (useful with port 0); empty before Start.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops accepting requests and waits for running ones until ctx
// ends; it also releases an address bound by Listen but never served.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.serving {
		if s.ln == nil {
			return nil
		}
		return s.ln.Close()
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("metrics server shutdown: %w", err)
	}
	return nil
}

func healthHandler(source HealthSource, timeout time.Duration, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		var h Health
		report, err := source(ctx)
		if err != nil {
			h = Health{Status: StatusDown, Components: map[string]ComponentHealth{}, Error: err.Error()}
		} else {
			h = HealthFromReport(report)
		}
		code := http.StatusOK
		if !h.OK() {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		if err := json.NewEncoder(w).Encode(h); err != nil {
			logger.Debug("write health response", "err", err)
		}
	})
}
