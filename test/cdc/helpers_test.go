package cdc_test

import (
	"context"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/test/harness"
)

// startServer returns a session to the test's store, the one OUTBOX_TEST_SCYLLA
// names or else miniscylla on a free port, configured further by opts, and
// a keyspace name of the test's own, so that tests sharing an external
// store do not meet.
func startServer(tb testing.TB, opts ...func(*gocql.ClusterConfig)) (s *gocql.Session, keyspace string) {
	tb.Helper()
	harness.LogSubstrate(tb)
	keyspace, _ = harness.UniqueNames(tb.Name())
	if addr := harness.ExternalScylla(); addr != "" {
		return miniscyllatest.Connect(tb, addr, opts...), keyspace
	}
	harness.StartingEmbedded(tb, "an in-process miniscylla")
	return miniscyllatest.Connect(tb, miniscyllatest.Start(tb, miniscylla.Config{}).Addr(), opts...), keyspace
}

// inKeyspace puts a test's keyspace in stmt, written with {ks}.
func inKeyspace(keyspace, stmt string) string { return strings.ReplaceAll(stmt, "{ks}", keyspace) }

// fastReader is reader tuning for tests: the confidence window a node on
// the same store picks (a real cluster's on an external one) and short
// poll delays instead of the 30 s defaults.
func fastReader() scyllacdc.AdvancedReaderConfig {
	return scyllacdc.AdvancedReaderConfig{
		ConfidenceWindowSize:   harness.CDCConfidenceWindow(),
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
