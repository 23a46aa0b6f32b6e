package cdc_test

import (
	"context"
	"log"
	"os"
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
)

// startServer runs miniscylla on a free port and returns a session to it,
// configured further by opts.
func startServer(tb testing.TB, opts ...func(*gocql.ClusterConfig)) *gocql.Session {
	tb.Helper()
	return miniscyllatest.Connect(tb, miniscyllatest.Start(tb, miniscylla.Config{}).Addr(), opts...)
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
