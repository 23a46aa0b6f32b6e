package durability_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/test/harness"
)

const (
	cdcPartitions = 40
	cdcTable      = "cdcdur.events"
)

// changes records, per partition, the change signatures a reader delivered
// or must deliver, in order.
type changes struct {
	mu  sync.Mutex
	per map[int][]string
}

func newChanges() *changes { return &changes{per: map[int][]string{}} }

func (c *changes) add(pk int, sig string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.per[pk] = append(c.per[pk], sig)
}

func (c *changes) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.per {
		n += len(s)
	}
	return n
}

// writeChanges writes steps [from, to) of every partition, one goroutine
// per partition so each partition's changes get increasing timestamps, and
// records what a reader must see.
func writeChanges(t *testing.T, s *gocql.Session, want *changes, from, to int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, cdcPartitions)
	for pk := range cdcPartitions {
		wg.Go(func() {
			for step := from; step < to; step++ {
				v := fmt.Sprintf("%d:%d", pk, step)
				var err error
				if step%3 == 2 {
					b := s.Batch(gocql.LoggedBatch)
					b.Query(`INSERT INTO `+cdcTable+` (pk, ck, v) VALUES (?, ?, ?)`, pk, step, v)
					b.Query(`INSERT INTO `+cdcTable+` (pk, ck, v) VALUES (?, ?, ?)`, pk, -step, v)
					err = b.Exec()
				} else {
					err = s.Query(`INSERT INTO `+cdcTable+` (pk, ck, v) VALUES (?, ?, ?)`, pk, step, v).Exec()
				}
				if err != nil {
					errs <- fmt.Errorf("partition %d step %d: %w", pk, step, err)
					return
				}
				want.add(pk, v)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// consumer records each change's partition and value, and saves progress
// after every change, as a relay does.
type consumer struct {
	got      *changes
	progress *scyllacdc.ProgressReporter
}

func (c *consumer) Consume(ctx context.Context, ch scyllacdc.Change) error {
	d := ch.Delta[0]
	pk, _ := d.GetValue("pk")
	v, _ := d.GetValue("v")
	c.got.add(*pk.(*int), *v.(*string))
	return c.progress.MarkProgress(ctx, scyllacdc.Progress{LastProcessedRecordTime: ch.Time})
}

func (c *consumer) End() error { return nil }

type consumerFactory struct{ got *changes }

func (f consumerFactory) CreateChangeConsumer(_ context.Context, in scyllacdc.CreateChangeConsumerInput) (scyllacdc.ChangeConsumer, error) {
	return &consumer{got: f.got, progress: in.ProgressReporter}, nil
}

// reader runs a scylla-cdc-go reader with table-backed progress over s.
type reader struct {
	r    *scyllacdc.Reader
	errC chan error
}

func startReader(t *testing.T, s *gocql.Session, got *changes) *reader {
	t.Helper()
	pm, err := scyllacdc.NewTableBackedProgressManager(s, "cdcdur.cdc_progress", "durability")
	if err != nil {
		t.Fatalf("progress manager: %v", err)
	}
	cfg := &scyllacdc.ReaderConfig{
		Session: s, TableNames: []string{cdcTable}, ChangeConsumerFactory: consumerFactory{got}, ProgressManager: pm,
		Advanced: scyllacdc.AdvancedReaderConfig{
			ConfidenceWindowSize:   100 * time.Millisecond,
			PostNonEmptyQueryDelay: 10 * time.Millisecond,
			PostEmptyQueryDelay:    20 * time.Millisecond,
			PostFailedQueryDelay:   100 * time.Millisecond,
			QueryTimeWindowSize:    time.Minute,
			ChangeAgeLimit:         time.Hour,
		},
	}
	if testing.Verbose() {
		cfg.Logger = log.New(os.Stderr, "scylla-cdc-go ", log.Lmicroseconds)
	}
	r, err := scyllacdc.NewReader(context.Background(), cfg)
	if err != nil {
		t.Fatalf("new reader: %v", err)
	}
	rd := &reader{r: r, errC: make(chan error, 1)}
	go func() { rd.errC <- r.Run(context.Background()) }()
	return rd
}

func (rd *reader) stop(t *testing.T) {
	t.Helper()
	rd.r.Stop()
	select {
	case err := <-rd.errC:
		if err != nil {
			t.Fatalf("reader: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("reader did not stop")
	}
}

func caughtUp(got, want *changes) error {
	if g, w := got.total(), want.total(); g < w {
		return fmt.Errorf("%d of %d changes consumed", g, w)
	}
	return nil
}

func sameChanges(t *testing.T, what string, got, want *changes) {
	t.Helper()
	for pk := range cdcPartitions {
		if g, w := got.per[pk], want.per[pk]; !slices.Equal(g, w) {
			t.Errorf("%s, partition %d: got %d changes %q\nwant %d %q", what, pk, len(g), g, len(w), w)
		}
	}
}

func gocqlSession(t *testing.T, srv *server) *gocql.Session {
	t.Helper()
	s, err := srv.cluster(t).CreateSession()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestCDCReaderResumesAcrossKill9: a reader consumes changes and saves its
// progress in a table; it stops, more changes are written, devstack is
// killed with SIGKILL and restarted, more changes again; a new reader
// resumes from the saved progress and delivers exactly the changes it had
// not consumed, before and after the crash, none twice and none missing.
// It only works if the CDC generation (its streams) survived the restart.
func TestCDCReaderResumesAcrossKill9(t *testing.T) {
	harness.EmbeddedOnly(t, "it kills a devstack with SIGKILL and restarts it over its write-ahead log")
	dir := t.TempDir()
	srv := startDevstack(t, dir)
	s := gocqlSession(t, srv)
	for _, q := range []string{
		`CREATE KEYSPACE cdcdur WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
		`CREATE TABLE ` + cdcTable + ` (pk int, ck int, v text, PRIMARY KEY (pk, ck)) WITH cdc = {'enabled': true}`,
	} {
		if err := s.Query(q).Exec(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	consumed, first := newChanges(), newChanges()
	rd := startReader(t, s, consumed)
	writeChanges(t, s, first, 0, 15)
	harness.Eventually(t, 2*time.Minute, func() error { return caughtUp(consumed, first) })
	rd.stop(t)
	sameChanges(t, "before the crash", consumed, first)

	pending := newChanges()
	writeChanges(t, s, pending, 15, 25)
	srv.Kill(t)
	s.Close()

	srv = startDevstack(t, dir)
	s = gocqlSession(t, srv)
	writeChanges(t, s, pending, 25, 35)
	resumed := newChanges()
	rd = startReader(t, s, resumed)
	harness.Eventually(t, 2*time.Minute, func() error { return caughtUp(resumed, pending) })
	rd.stop(t)
	sameChanges(t, "after the crash", resumed, pending)
	t.Logf("consumed %d changes before the crash, %d after", consumed.total(), resumed.total())
}
