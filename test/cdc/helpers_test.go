package cdc_test

import (
	"context"
	"log"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/infra/miniscylla"
)

// startServer runs miniscylla on a free port and returns a session to it.
func startServer(tb testing.TB) *gocql.Session {
	tb.Helper()
	srv, err := miniscylla.Start(context.Background(), miniscylla.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		tb.Fatalf("start miniscylla: %v", err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	host, portStr, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		tb.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	cluster := gocql.NewCluster(host)
	cluster.Port = port
	cluster.Timeout = 10 * time.Second
	cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	session, err := cluster.CreateSession()
	if err != nil {
		tb.Fatalf("connect to %s: %v", srv.Addr(), err)
	}
	tb.Cleanup(session.Close)
	return session
}

func exec(tb testing.TB, s *gocql.Session, stmt string, args ...any) {
	tb.Helper()
	if err := s.Query(stmt, args...).Exec(); err != nil {
		tb.Fatalf("%s: %v", stmt, err)
	}
}

// waitFor polls cond every 10 ms until it holds or the deadline passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fastReader is reader tuning for a single in-process node: a 100 ms
// confidence window and short poll delays instead of the 30 s defaults.
func fastReader() scyllacdc.AdvancedReaderConfig {
	return scyllacdc.AdvancedReaderConfig{
		ConfidenceWindowSize:   100 * time.Millisecond,
		PostNonEmptyQueryDelay: 10 * time.Millisecond,
		PostEmptyQueryDelay:    20 * time.Millisecond,
		PostFailedQueryDelay:   100 * time.Millisecond,
		QueryTimeWindowSize:    time.Minute,
		ChangeAgeLimit:         time.Minute,
	}
}

// runningReader is a scylla-cdc-go Reader running in the background.
type runningReader struct {
	reader *scyllacdc.Reader
	errC   chan error
}

func startReader(tb testing.TB, cfg *scyllacdc.ReaderConfig) *runningReader {
	tb.Helper()
	if cfg.Logger == nil && testing.Verbose() {
		cfg.Logger = log.New(os.Stderr, "scylla-cdc-go ", log.Lmicroseconds)
	}
	r, err := scyllacdc.NewReader(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("new reader: %v", err)
	}
	rr := &runningReader{reader: r, errC: make(chan error, 1)}
	go func() { rr.errC <- r.Run(context.Background()) }()
	return rr
}

// stop stops the reader and waits for Run to return.
func (rr *runningReader) stop(tb testing.TB) {
	tb.Helper()
	rr.reader.Stop()
	select {
	case err := <-rr.errC:
		if err != nil {
			tb.Fatalf("reader: %v", err)
		}
	case <-time.After(30 * time.Second):
		tb.Fatal("reader did not stop")
	}
}
