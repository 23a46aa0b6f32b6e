package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/actors/admission"
	"github.com/outboxnode/outbox/actors/health"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/gateway"
	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/infra/tracing"
	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/schema"
)

// node is the running process: what start built, and how to take it down.
type node struct {
	cfg    config.Config
	logger *slog.Logger

	// closers run in reverse order of registration at shutdown.
	closers []closer
	// fatal receives the reason the node must stop on its own (the
	// supervision budget is exceeded, or the coordinator stopped while the
	// node was not stopping it); the first reason wins.
	fatal chan error
	// gate is closed first thing when the node begins to stop; from then on
	// the coordinator and the order actors refuse every command with
	// SHUTTING_DOWN and spawn nothing.
	gate admission.Gate
	// sys and coordinator are the running actor tree (--demo sends to it).
	sys         *actor.ActorSystem
	coordinator *actor.PID
	// member is the node's cluster membership in cluster mode, else nil.
	member *member
	// metricsURL is where /metrics is served, once ready.
	metricsURL string
}

type closer struct {
	name  string
	close func(ctx context.Context) error
}

func (n *node) onShutdown(name string, f func(ctx context.Context) error) {
	n.closers = append(n.closers, closer{name, f})
}

// start builds the node in data-path order: embedded servers, store and
// schema, metrics (port bound), remote, actor tree, then serves HTTP. On
// error, whatever was started is shut down again.
func start(ctx context.Context, cfg config.Config, logger *slog.Logger) (n *node, err error) {
	n = &node{cfg: cfg, logger: logger, fatal: make(chan error, 1)}
	defer func() {
		if err != nil {
			if serr := n.shutdown(); serr != nil {
				logger.Error("cleanup after failed start", "err", serr)
			}
		}
	}()
	// Registered first, so it shuts down last: the spans of the drain are flushed too.
	tp, err := tracing.Setup(cfg.Tracing, "outbox-node", logger)
	if err != nil {
		return n, err
	}
	n.onShutdown("tracing", tp.Shutdown)
	if cfg.Tracing.Enabled() {
		logger.Info("tracing on", "otel_endpoint", cfg.Tracing.Endpoint, "sample_ratio", cfg.Tracing.SampleRatio)
	}
	if err := n.startEmbedded(ctx); err != nil {
		return n, err
	}
	session, err := n.openStore(ctx)
	if err != nil {
		return n, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg)
	if err != nil {
		return n, err
	}
	m.Limits(n.cfg.Scylla.OutboxTTL, n.cfg.Coordinator.RestartBudget, n.cfg.Coordinator.RestartWindow)
	// Bound now so that a busy port fails before the actors start; served
	// once the tree that answers /health runs.
	srv := metrics.NewServer(n.cfg.Node.MetricsAddr, reg, func(ctx context.Context) (*messages.HealthReport, error) {
		return askHealth(ctx, n.sys, n.coordinator)
	}, n.cfg.Node.RequestTimeout, logger)
	if err := srv.Listen(); err != nil {
		return n, portHint(err, "metrics-addr")
	}
	if n.cfg.Node.Pprof {
		srv.ServePprof()
	}
	if err := n.startActors(ctx, session, m); err != nil {
		_ = srv.Shutdown(ctx)
		return n, err
	}
	srv.Serve()
	n.onShutdown("metrics server", srv.Shutdown)
	n.metricsURL = "http://" + srv.Addr() + "/metrics"
	logger.Info("node ready",
		"remote", n.cfg.Node.RemoteAddr, "metrics", n.metricsURL,
		"health", "http://"+srv.Addr()+"/health", "data_dir", n.cfg.Node.DataDir)
	return n, nil
}

// hints tells a newcomer what to try next; main logs them once the node
// is ready, so a start that fails never suggests connecting to it.
func (n *node) hints() {
	ctl := "go run ./cmd/outboxctl"
	if n.cfg.Node.RemoteAddr != config.DefaultRemoteAddr {
		ctl += " --remote-addr " + n.cfg.Node.RemoteAddr
	}
	n.logger.Info("try: " + ctl + " order create --customer alice --amount 12.50")
	n.logger.Info("then: " + ctl + " order get <id>; " + ctl + " health; " + ctl + " events; curl " + n.metricsURL)
}

// openStore connects to the store (n.cfg holds the embedded server's real
// address by now) and applies the schema when configured to.
func (n *node) openStore(ctx context.Context) (gocqlx.Session, error) {
	cfg := n.cfg
	session, err := scylla.Connect(ctx, cfg.Scylla, cfg.ScyllaHosts(), n.logger)
	if err != nil {
		return session, err
	}
	n.onShutdown("scylla session", func(context.Context) error { session.Close(); return nil })
	if !cfg.ShouldMigrate() {
		return session, nil
	}
	stmts, err := schema.Statements(cfg.Scylla)
	if err != nil {
		return session, err
	}
	if err := scylla.Migrate(ctx, session, stmts); err != nil {
		return session, err
	}
	n.logger.Info("schema applied", "keyspace", cfg.Scylla.Keyspace, "statements", len(stmts))
	return session, nil
}

// startActors starts the actor system and its remote, then spawns the tree
// (command side, health, supervision log and relay) under the coordinator.
// The remote starts before the tree so that shutdown (closers in reverse)
// poisons the tree first, then stops the remote, then the system.
func (n *node) startActors(ctx context.Context, session gocqlx.Session, m *metrics.Metrics) error {
	sys := actor.NewActorSystem(
		actor.WithLoggerFactory(protoactorLogger(n.logger)),
		actor.WithDeadLetterRequestLogging(false),
	)
	n.onShutdown("actor system", func(context.Context) error { sys.Shutdown(); return nil })
	countRestarts(sys, m)
	if err := n.startRemote(sys, m); err != nil {
		return err
	}
	store := scylla.NewProbe(session, n.logger.With("component", "scylla"))
	watching, stopWatching := context.WithCancel(context.Background())
	go store.Run(watching)
	n.onShutdown("store probe", func(context.Context) error { stopWatching(); return nil })
	if n.cfg.Cluster.Enabled() {
		var err error
		if n.member, err = n.joinCluster(ctx, session, m); err != nil {
			return err
		}
	}
	relay, err := n.buildRelay(sys, session, m)
	if err != nil {
		return err
	}
	coordinator, err := n.spawnTree(sys, treeDeps{
		store:          scylla.NewStore(session, n.cfg.Scylla.Keyspace),
		probes:         append([]health.Probe{store}, relay.probes...),
		metrics:        m,
		supervisionLog: filepath.Join(n.cfg.Node.DataDir, "supervision.log"),
		relay:          relay.children,
		member:         n.member,
	})
	if err != nil {
		return err
	}
	n.sys, n.coordinator = sys, coordinator
	return nil
}

// startRemote listens on --remote-addr and advertises exactly that string,
// since clients address the coordinator as NewPID(remoteAddr, "coordinator")
// and any mismatch silently drops their requests. The gateway guards every
// stream (only the public API reaches the coordinator); with --remote-tls-*
// the remote requires mutual TLS both ways (the node dials clients back).
func (n *node) startRemote(sys *actor.ActorSystem, m *metrics.Metrics) (err error) {
	addr, tlsCfg := n.cfg.Node.RemoteAddr, n.cfg.Remote
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("remote addr: %w", err)
	}
	cfg, err := n.remoteConfig(addr, gateway.Config{
		Admins:          tlsCfg.Admins,
		AdminWithoutTLS: isLoopback(host),
		Counter:         m,
		Replier:         sys.Root,
		Logger:          n.logger.With("component", "gateway"),
	})
	if err != nil {
		return err
	}
	r := remote.NewRemote(sys, cfg)
	// Start panics when it cannot listen; turn that into a start-up error.
	defer func() {
		if p := recover(); p != nil {
			err = portHint(fmt.Errorf("start remote on %s: %v", addr, p), "remote-addr")
		}
	}()
	r.Start()
	n.onShutdown("remote", func(context.Context) error { r.Shutdown(true); return nil })
	n.logger.Info("remote gateway", "tls", tlsCfg.Enabled(), "admins", len(tlsCfg.Admins), "admin_without_tls", !tlsCfg.Enabled() && isLoopback(host))
	return nil
}

// remoteConfig is the configuration of a remote listening on addr and
// advertising exactly it, behind a gateway built from gw (its Address and,
// with --remote-tls-*, its mutual TLS filled in here): the public remote's
// and the cluster members' share it.
func (n *node) remoteConfig(addr string, gw gateway.Config) (*remote.Config, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("remote addr: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("remote addr %q: bad port", addr)
	}
	opts := []remote.ConfigOption{remote.WithAdvertisedHost(addr)}
	if tlsCfg := n.cfg.Remote; tlsCfg.Enabled() {
		if gw.TLS, err = gateway.LoadTLS(gateway.TLSFiles{Cert: tlsCfg.CertFile, Key: tlsCfg.KeyFile, CA: tlsCfg.CAFile}); err != nil {
			return nil, fmt.Errorf("remote TLS: %w", err)
		}
		opts = append(opts, remote.WithDialOptions(gw.TLS.DialOption()))
	}
	gw.Address = addr
	g, err := gateway.New(gw)
	if err != nil {
		return nil, err
	}
	return remote.Configure(host, port, append(opts, remote.WithServerOptions(g.ServerOptions()...))...), nil
}

// portHint names the flag that moves a listener when its port is taken.
// The text is matched too: Proto.Actor's remote reports its listen error
// as a panic message.
func portHint(err error, flag string) error {
	if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), syscall.EADDRINUSE.Error()) {
		return fmt.Errorf("%w (change --%s)", err, flag)
	}
	return err
}

// isLoopback says whether a remote host accepts connections from this
// machine only (then, without TLS, every peer is trusted as admin).
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func askHealth(ctx context.Context, sys *actor.ActorSystem, coordinator *actor.PID) (*messages.HealthReport, error) {
	timeout := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	res, err := sys.Root.RequestFuture(coordinator, &messages.HealthQuery{}, timeout).Result()
	if err != nil {
		return nil, fmt.Errorf("ask health: %w", err)
	}
	switch r := res.(type) {
	case *messages.HealthReport:
		return r, nil
	case *messages.CommandRejected:
		return nil, fmt.Errorf("ask health: rejected: %s", r.GetReason())
	}
	return nil, fmt.Errorf("ask health: unexpected reply %T", res)
}

// fail reports a reason the node must stop; it never blocks, and only the
// first reason is kept.
func (n *node) fail(err error) {
	select {
	case n.fatal <- err:
	default:
	}
}

// wait blocks until ctx ends (signal) or the node fails on its own, then
// closes the admission gate before it returns (before anything is logged),
// so that no command is accepted from the moment the stop is known; it
// returns the failure, nil for a signal.
func (n *node) wait(ctx context.Context) error {
	var err error
	select {
	case <-ctx.Done():
	case err = <-n.fatal:
	}
	n.gate.Close()
	return err
}

// shutdown closes the admission gate (if wait has not), then runs the
// closers newest first (the order actors drain and the top actors are
// poisoned before the remote stops, the remote before the actor system,
// the store and broker last), bounded by ShutdownTimeout.
func (n *node) shutdown() error {
	n.gate.Close()
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Node.ShutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		var errs []error
		for i := len(n.closers) - 1; i >= 0; i-- {
			c := n.closers[i]
			n.logger.Debug("stopping", "component", c.name)
			if err := c.close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", c.name, err))
			}
		}
		done <- errors.Join(errs...)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("shutdown exceeded %s", n.cfg.Node.ShutdownTimeout)
	}
}
