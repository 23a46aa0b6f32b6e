package durability_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"
	"github.com/scylladb/gocqlx/v2/qb"
	"golang.org/x/sync/errgroup"

	"github.com/outboxnode/outbox/test/harness"
)

const (
	// workloadIDs spans just over 10,000 rows: every 4 slots of batchSize
	// ids hold 1 + batchSize + 1 + 1 rows.
	workloadIDs  = 23000
	workloadRows = 10000
	writers      = 16
	batchSize    = 4
	shortTTL     = time.Second
	longTTL      = time.Hour
)

// rowKind says how a row was written, which decides what a restart must show.
type rowKind int

const (
	plain    rowKind = iota
	batched          // in a LOGGED BATCH of batchSize rows
	expiring         // USING TTL shortTTL: gone after the restart
	lasting          // USING TTL longTTL: present, with the TTL still counting down
)

// item is one row of the test table.
type item struct {
	ID int
	V  string
}

func value(id int) string { return fmt.Sprintf("value-%d", id) }

func createSchema(t testing.TB, s gocqlx.Session) {
	t.Helper()
	mustExec(t, s, `CREATE KEYSPACE dur WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`)
	mustExec(t, s, `CREATE TABLE dur.items (id int PRIMARY KEY, v text)`)
}

var (
	insertStmt, insertNames         = qb.Insert("dur.items").Columns("id", "v").ToCql()
	insertShortStmt, insertShortNms = qb.Insert("dur.items").Columns("id", "v").TTL(shortTTL).ToCql()
	insertLongStmt, insertLongNms   = qb.Insert("dur.items").Columns("id", "v").TTL(longTTL).ToCql()
)

// write writes the rows of one unit of work: ids [id, id+n) of kind k, in
// one statement or one logged batch.
func write(ctx context.Context, s gocqlx.Session, id int, k rowKind) error {
	switch k {
	case batched:
		b := s.Session.BatchWithContext(ctx, gocql.LoggedBatch)
		for i := range batchSize {
			b.Query(insertStmt, id+i, value(id+i))
		}
		return b.Exec()
	case expiring:
		return s.ContextQuery(ctx, insertShortStmt, insertShortNms).BindStruct(item{id, value(id)}).ExecRelease()
	case lasting:
		return s.ContextQuery(ctx, insertLongStmt, insertLongNms).BindStruct(item{id, value(id)}).ExecRelease()
	}
	return s.ContextQuery(ctx, insertStmt, insertNames).BindStruct(item{id, value(id)}).ExecRelease()
}

func rowsOf(k rowKind) int {
	if k == batched {
		return batchSize
	}
	return 1
}

// ledger records the rows whose write was acknowledged.
type ledger struct {
	mu    sync.Mutex
	acked map[int]ack
}

type ack struct {
	kind rowKind
	at   time.Time
}

func newLedger() *ledger { return &ledger{acked: map[int]ack{}} }

func (l *ledger) ack(id int, k rowKind) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range rowsOf(k) {
		l.acked[id+i] = ack{k, now}
	}
}

// workload writes ids [from, to) with writers goroutines, cycling through
// the row kinds, and records every acknowledged write. It stops at the
// first error.
func (l *ledger) workload(ctx context.Context, s gocqlx.Session, from, to int) error {
	var next atomic.Int64
	next.Store(int64(from))
	g, ctx := errgroup.WithContext(ctx)
	for range writers {
		g.Go(func() error {
			for {
				id := int(next.Add(batchSize)) - batchSize
				if id >= to {
					return nil
				}
				// Each slot of batchSize ids is one write; single-row
				// writes leave the slot's other ids unused.
				k := rowKind((id / batchSize) % 4)
				if err := write(ctx, s, id, k); err != nil {
					return fmt.Errorf("write %d: %w", id, err)
				}
				l.ack(id, k)
			}
		})
	}
	return g.Wait()
}

// stored reads every row of the table.
func stored(t testing.TB, s gocqlx.Session) map[int]string {
	t.Helper()
	var items []item
	if err := s.Query(`SELECT id, v FROM dur.items`, nil).SelectRelease(&items); err != nil {
		t.Fatalf("read back: %v", err)
	}
	out := make(map[int]string, len(items))
	for _, it := range items {
		out[it.ID] = it.V
	}
	return out
}

// verify checks that every acknowledged row is stored with its value but
// those in dropped (which must be gone), and that rows whose TTL ran out
// before read (the time of the read) are gone.
func (l *ledger) verify(t testing.TB, got map[int]string, read time.Time, dropped map[int]bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	missing, resurrected, wrong, expired := 0, 0, 0, 0
	for id, a := range l.acked {
		v, ok := got[id]
		gone := a.kind == expiring && a.at.Add(shortTTL).Before(read)
		if gone {
			expired++
		}
		switch {
		case dropped[id] && ok:
			if resurrected < 5 {
				t.Errorf("row %d of the dropped record is back", id)
			}
			resurrected++
		case dropped[id]:
		case gone && ok:
			resurrected++
		case a.kind != expiring && !ok:
			if missing < 5 {
				t.Errorf("acknowledged row %d (kind %d) missing after restart", id, a.kind)
			}
			missing++
		case ok && v != value(id):
			wrong++
		}
	}
	if missing+resurrected+wrong > 0 {
		t.Fatalf("%d acknowledged rows missing, %d expired rows back, %d wrong values (of %d acknowledged)", missing, resurrected, wrong, len(l.acked))
	}
	t.Logf("%d acknowledged rows checked, %d of them expired", len(l.acked), expired)
}

func (l *ledger) count(k rowKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.acked {
		if a.kind == k {
			n++
		}
	}
	return n
}

// TestKill9KeepsEveryAcknowledgedWrite writes 10,000 rows (single inserts,
// logged batches, short and long TTLs), then kills devstack with SIGKILL
// while more writes are in flight; after the restart every acknowledged row
// is there, rows whose TTL ran out are not, and long TTLs kept counting.
func TestKill9KeepsEveryAcknowledgedWrite(t *testing.T) {
	harness.EmbeddedOnly(t, "it kills a devstack with SIGKILL and reads its write-ahead log")
	dir := t.TempDir()
	srv := startDevstack(t, dir)
	s := srv.session(t)
	createSchema(t, s)
	l := newLedger()
	if err := l.workload(context.Background(), s, 0, workloadIDs); err != nil {
		t.Fatal(err)
	}
	if n := len(l.acked); n < workloadRows {
		t.Fatalf("only %d rows acknowledged", n)
	}
	for _, k := range []rowKind{plain, batched, expiring, lasting} {
		if l.count(k) == 0 {
			t.Fatalf("workload wrote no rows of kind %d", k)
		}
	}
	// Expiring rows must have expired before the crash, so that the
	// restart's only way to show them is to misread their TTL.
	ttlRan := time.Now().Add(2 * shortTTL)

	// Crash while writes are in flight: the killed ones fail, and whatever
	// was acknowledged before the kill must survive.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := len(l.acked)
	inflight := make(chan error, 1)
	go func() { inflight <- l.workload(ctx, s, workloadIDs, math.MaxInt-batchSize) }()
	harness.Eventually(t, time.Minute, func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		if len(l.acked) < before+500 {
			return fmt.Errorf("%d in-flight rows acknowledged", len(l.acked)-before)
		}
		return nil
	})
	harness.Eventually(t, time.Minute, func() error {
		if time.Now().Before(ttlRan) {
			return errors.New("short TTL not over yet")
		}
		return nil
	})
	srv.Kill(t)
	if err := <-inflight; err == nil {
		t.Fatal("writes kept succeeding after the kill")
	}
	t.Logf("%d rows acknowledged before the kill", len(l.acked)) // the writers are done

	srv = startDevstack(t, dir)
	s = srv.session(t)
	read := time.Now()
	l.verify(t, stored(t, s), read, nil)

	var ttl int
	if err := s.Query(`SELECT ttl(v) FROM dur.items WHERE id = ?`, nil).Bind(int(lasting) * batchSize).Scan(&ttl); err != nil {
		t.Fatalf("read ttl: %v", err)
	}
	if ttl <= 0 || ttl > int((longTTL-2*shortTTL).Seconds()) {
		t.Errorf("ttl(v) after restart = %d, want the original expiry (<= %v)", ttl, longTTL-2*shortTTL)
	}
	if strings.Contains(srv.Log(), "cutting torn") {
		t.Errorf("clean log reported a torn tail:\n%s", srv.Log())
	}
}

// TestTornLastRecordIsCut crashes devstack, cuts a few bytes off the log's
// last record, and restarts: the start-up logs the cut, and every row but
// the torn write's is there; new writes go on and survive another crash.
func TestTornLastRecordIsCut(t *testing.T) {
	harness.EmbeddedOnly(t, "it tears the last record of a devstack's write-ahead log")
	dir := t.TempDir()
	srv := startDevstack(t, dir)
	s := srv.session(t)
	createSchema(t, s)
	l := newLedger()
	if err := l.workload(context.Background(), s, 0, workloadIDs); err != nil {
		t.Fatal(err)
	}
	// The last record is this write: every earlier one was acknowledged.
	const torn = -1
	if err := write(context.Background(), s, torn, plain); err != nil {
		t.Fatal(err)
	}
	srv.Kill(t)

	path := walPath(dir)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-3); err != nil {
		t.Fatal(err)
	}

	srv = startDevstack(t, dir)
	if log := srv.Log(); !strings.Contains(log, "cutting torn or corrupt tail") || !strings.Contains(log, "short record") {
		t.Errorf("restart did not report the cut:\n%s", log)
	}
	s = srv.session(t)
	read := time.Now()
	got := stored(t, s)
	if _, ok := got[torn]; ok {
		t.Error("the torn write was replayed")
	}
	l.verify(t, got, read, nil)

	const after = -2
	if err := write(context.Background(), s, after, plain); err != nil {
		t.Fatal(err)
	}
	srv.Kill(t)
	srv = startDevstack(t, dir)
	if _, ok := stored(t, srv.session(t))[after]; !ok {
		t.Error("a write acknowledged after the cut is missing after the next crash")
	}
	if strings.Contains(srv.Log(), "cutting torn") {
		t.Errorf("the log was torn again:\n%s", srv.Log())
	}
}
