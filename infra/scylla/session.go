// Package scylla is the node's ScyllaDB access on the command side of the
// data path: orders actor -> Store.Commit -> one LOGGED BATCH into orders +
// outbox_messages (whose CDC log the relay tails). It also owns the gocqlx
// session, the idempotent schema migration and the health Probe.
//
// Every statement names its table as keyspace.table, so one session serves
// the migration (before the keyspace exists) and the store.
package scylla

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/tlsfiles"
)

// Connect opens a gocqlx session to hosts ("host" or "host:port") with the
// consistency and timeouts of cfg. The caller closes the session.
func Connect(ctx context.Context, cfg config.Scylla, hosts []string, logger *slog.Logger) (gocqlx.Session, error) {
	cluster, err := clusterConfig(cfg, hosts, logger)
	if err != nil {
		return gocqlx.Session{}, err
	}
	type result struct {
		s   gocqlx.Session
		err error
	}
	// CreateSession takes no context; run it aside so ctx can bound start-up.
	done := make(chan result, 1)
	go func() {
		s, err := gocqlx.WrapSession(cluster.CreateSession())
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return gocqlx.Session{}, fmt.Errorf("connect to scylla %v: %w", hosts, r.err)
		}
		return r.s, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.err == nil {
				r.s.Close()
			}
		}()
		return gocqlx.Session{}, fmt.Errorf("connect to scylla %v: %w", hosts, ctx.Err())
	}
}

func clusterConfig(cfg config.Scylla, hosts []string, logger *slog.Logger) (*gocql.ClusterConfig, error) {
	if len(hosts) == 0 {
		return nil, &config.InvalidError{Field: "scylla-hosts", Reason: "no hosts to connect to"}
	}
	consistency, err := gocql.ParseConsistencyWrapper(strings.ToUpper(cfg.Consistency))
	if err != nil {
		return nil, &config.InvalidError{Field: "consistency", Reason: err.Error()}
	}
	cluster := gocql.NewCluster(hosts...)
	// Peers discovered through system.local/peers are dialled on
	// cluster.Port, so carry a common explicit port over (embedded servers
	// on non-default ports).
	if port, ok := commonPort(hosts); ok {
		cluster.Port = port
	}
	cluster.Consistency = consistency
	// Off, gocql sends no timestamp and the store stamps each write when it
	// applies (config.Scylla.UseServerTimestamps).
	cluster.DefaultTimestamp = !cfg.UseServerTimestamps()
	cluster.Timeout = cfg.Timeout
	cluster.WriteTimeout = cfg.Timeout
	cluster.ReadTimeout = cfg.Timeout
	cluster.ConnectTimeout = cfg.ConnectTimeout
	// gocql re-dials a host it marked down every ReconnectInterval (60 s by
	// default): after a store restart commands failed for up to 28 s in the
	// chaos run. One dial a second per down host is cheap.
	cluster.ReconnectInterval = time.Second
	cluster.Logger = slogStdLogger{logger}
	if cfg.Username != "" {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: cfg.Username, Password: cfg.Password.Reveal()}
	}
	if cfg.TLS.Enabled() {
		verify := tlsfiles.VerifyFull
		if cfg.TLS.SkipHostVerification {
			verify = tlsfiles.VerifyChain
		}
		tc, err := tlsfiles.Client(tlsfiles.Files{CA: cfg.TLS.CAFile, Cert: cfg.TLS.CertFile, Key: cfg.TLS.KeyFile}, verify)
		if err != nil {
			return nil, &config.InvalidError{Field: "scylla-tls", Reason: err.Error()}
		}
		// gocql turns host verification off unless EnableHostVerification
		// is set; VerifyChain has turned crypto/tls's own check off and
		// verifies the chain itself.
		cluster.SslOpts = &gocql.SslOptions{Config: tc, EnableHostVerification: !cfg.TLS.SkipHostVerification}
	}
	return cluster, nil
}

func commonPort(hosts []string) (int, bool) {
	port := 0
	for _, h := range hosts {
		_, p, err := net.SplitHostPort(h)
		if err != nil {
			return 0, false
		}
		n, err := strconv.Atoi(p)
		if err != nil || (port != 0 && n != port) {
			return 0, false
		}
		port = n
	}
	return port, port != 0
}

// slogStdLogger routes gocql's log lines to slog at debug level: the driver
// logs reconnects and topology noise that operators rarely need.
type slogStdLogger struct{ l *slog.Logger }

func (s slogStdLogger) Print(v ...any) { s.l.Debug("gocql: " + fmt.Sprint(v...)) }
func (s slogStdLogger) Printf(format string, v ...any) {
	s.l.Debug("gocql: " + fmt.Sprintf(format, v...))
}
func (s slogStdLogger) Println(v ...any) { s.l.Debug("gocql: " + fmt.Sprint(v...)) }
