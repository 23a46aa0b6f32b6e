package cdc_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"
	"golang.org/x/sync/errgroup"

	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/internal/poll"
)

const (
	partitions = 400
	workers    = 8 // worker w owns the partitions pk with pk % workers == w
)

// workload writes a deterministic mix of inserts, updates, row deletes and
// logged batches, and records per partition the change signatures a reader
// must deliver, in order.
type workload struct {
	s        *gocql.Session
	table    string // keyspace.table
	mu       sync.Mutex
	expected map[int][]string
}

func (w *workload) expect(pk int, sig string) {
	w.mu.Lock()
	w.expected[pk] = append(w.expected[pk], sig)
	w.mu.Unlock()
}

// run executes steps [from, to) for every partition, partitions of one
// worker sequentially so that their changes have increasing timestamps.
func (w *workload) run(ctx context.Context, from, to int) error {
	g, ctx := errgroup.WithContext(ctx)
	for wk := 0; wk < workers; wk++ {
		g.Go(func() error {
			for step := from; step < to; step++ {
				for pk := wk; pk < partitions; pk += workers {
					if err := w.step(ctx, pk, step); err != nil {
						return fmt.Errorf("partition %d step %d: %w", pk, step, err)
					}
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func (w *workload) step(ctx context.Context, pk, s int) error {
	v := fmt.Sprintf("%d:%d", pk, s)
	switch s % 4 {
	case 0:
		w.expect(pk, sig(scyllacdc.Insert, s, v))
		return w.s.Query("INSERT INTO "+w.table+" (pk, ck, v) VALUES (?, ?, ?)", pk, s, v).WithContext(ctx).Exec()
	case 1:
		w.expect(pk, sig(scyllacdc.Update, s-1, v))
		return w.s.Query("UPDATE "+w.table+" SET v = ? WHERE pk = ? AND ck = ?", v, pk, s-1).WithContext(ctx).Exec()
	case 2:
		w.expect(pk, sig(scyllacdc.RowDelete, s-2, ""))
		return w.s.Query("DELETE FROM "+w.table+" WHERE pk = ? AND ck = ?", pk, s-2).WithContext(ctx).Exec()
	default:
		// Two rows of pk and one row of another partition of this worker:
		// one change per partition.
		q := (pk + workers) % partitions
		b := w.s.Batch(gocql.LoggedBatch).WithContext(ctx)
		b.Query("INSERT INTO "+w.table+" (pk, ck, v) VALUES (?, ?, ?)", pk, s, v)
		b.Query("INSERT INTO "+w.table+" (pk, ck, v) VALUES (?, ?, ?)", pk, 100000+s, v)
		b.Query("UPDATE "+w.table+" SET v = ? WHERE pk = ? AND ck = ?", v, q, -s)
		w.expect(pk, changeSig(sig(scyllacdc.Insert, s, v), sig(scyllacdc.Insert, 100000+s, v)))
		w.expect(q, sig(scyllacdc.Update, -s, v))
		return w.s.ExecuteBatch(b)
	}
}

func sig(op scyllacdc.OperationType, ck int, v string) string {
	return fmt.Sprintf("%d/%d/%s", op, ck, v)
}

// changeSig is the signature of a change with these delta rows, whose
// order inside one change is unspecified.
func changeSig(rows ...string) string {
	slices.Sort(rows)
	return strings.Join(rows, ";")
}

// recorder is a ChangeConsumerFactory that records change signatures per
// partition and saves progress after every change, as a relay would.
type recorder struct {
	mu        sync.Mutex
	got       map[int][]string
	lastTime  map[string]gocql.UUID
	total     int
	misorders []string
}

func newRecorder() *recorder {
	return &recorder{got: map[int][]string{}, lastTime: map[string]gocql.UUID{}}
}

func (r *recorder) CreateChangeConsumer(_ context.Context, in scyllacdc.CreateChangeConsumerInput) (scyllacdc.ChangeConsumer, error) {
	return &streamRecorder{r: r, progress: in.ProgressReporter}, nil
}

type streamRecorder struct {
	r        *recorder
	progress *scyllacdc.ProgressReporter
}

func (c *streamRecorder) Consume(ctx context.Context, ch scyllacdc.Change) error {
	parts := make([]string, 0, len(ch.Delta))
	pk := -1
	for _, d := range ch.Delta {
		pkv, _ := d.GetValue("pk")
		ckv, _ := d.GetValue("ck")
		vv, _ := d.GetValue("v")
		if p, ok := pkv.(*int); ok && p != nil {
			pk = *p
		}
		ck, v := -1, ""
		if p, ok := ckv.(*int); ok && p != nil {
			ck = *p
		}
		if p, ok := vv.(*string); ok && p != nil {
			v = *p
		}
		parts = append(parts, sig(d.GetOperation(), ck, v))
	}
	r := c.r
	r.mu.Lock()
	stream := string(ch.StreamID)
	if prev, ok := r.lastTime[stream]; ok && scyllacdc.CompareTimeUUID(prev, ch.Time) >= 0 {
		r.misorders = append(r.misorders, fmt.Sprintf("stream %x: %s after %s", ch.StreamID, ch.Time, prev))
	}
	r.lastTime[stream] = ch.Time
	r.got[pk] = append(r.got[pk], changeSig(parts...))
	r.total++
	r.mu.Unlock()
	return c.progress.MarkProgress(ctx, scyllacdc.Progress{LastProcessedRecordTime: ch.Time})
}

func (c *streamRecorder) End() error { return nil }

// caughtUp reports whether every partition got at least the expected count.
func (r *recorder) caughtUp(expected map[int][]string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pk, want := range expected {
		if len(r.got[pk]) < len(want) {
			return false
		}
	}
	return true
}

func (r *recorder) check(t *testing.T, expected map[int][]string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.misorders {
		t.Error(m)
	}
	for pk, want := range expected {
		if got := r.got[pk]; !slices.Equal(got, want) {
			t.Errorf("partition %d: got %d changes %q\nwant %d changes %q", pk, len(got), got, len(want), want)
		}
	}
	for pk := range r.got {
		if _, ok := expected[pk]; !ok {
			t.Errorf("unexpected changes for partition %d: %q", pk, r.got[pk])
		}
	}
}

func count(m map[int][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// TestReaderResumesFromSavedProgress is the acceptance scenario: a reader
// with the table-backed progress manager consumes inserts, updates, deletes
// and logged batches in order per stream; it stops; more writes happen; a
// new reader resumes from the saved progress and sees exactly the new
// changes, none twice and none missing.
func TestReaderResumesFromSavedProgress(t *testing.T) {
	s, ks := startServer(t)
	miniscyllatest.Exec(t, s, inKeyspace(ks, "CREATE KEYSPACE {ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"))
	miniscyllatest.Exec(t, s, inKeyspace(ks, "CREATE TABLE {ks}.events (pk int, ck int, v text, PRIMARY KEY (pk, ck)) WITH cdc = {'enabled': true}"))
	table := ks + ".events"
	ctx := context.Background()

	newReader := func(rec *recorder) *runningReader {
		pm, err := scyllacdc.NewTableBackedProgressManager(s, ks+".cdc_progress", "acceptance")
		if err != nil {
			t.Fatalf("progress manager: %v", err)
		}
		return startReader(t, &scyllacdc.ReaderConfig{
			Session: s, TableNames: []string{table}, ChangeConsumerFactory: rec,
			ProgressManager: pm, Advanced: fastReader(),
		})
	}

	first := &workload{s: s, table: table, expected: map[int][]string{}}
	rec1 := newRecorder()
	reader := newReader(rec1)
	if err := first.run(ctx, 0, 15); err != nil {
		t.Fatal(err)
	}
	poll.Eventually(t, 2*time.Minute, poll.True("the first reader to catch up", func() bool { return rec1.caughtUp(first.expected) }))
	reader.stop(t)
	rec1.check(t, first.expected)

	second := &workload{s: s, table: table, expected: map[int][]string{}}
	if err := second.run(ctx, 15, 25); err != nil {
		t.Fatal(err)
	}
	rec2 := newRecorder()
	reader = newReader(rec2)
	poll.Eventually(t, 2*time.Minute, poll.True("the second reader to catch up", func() bool { return rec2.caughtUp(second.expected) }))
	reader.stop(t)
	rec2.check(t, second.expected)

	if n := count(first.expected) + count(second.expected); n < 10000 {
		t.Fatalf("workload produced only %d changes", n)
	}
	t.Logf("consumed %d + %d changes", rec1.total, rec2.total)
}
