package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/infra/miniscylla/engine"
	"github.com/outboxnode/outbox/internal/poll"
)

// lwtDeadline bounds every wait of the LWT tests: far longer than any
// step needs, so that only a step that is stuck runs into it.
const lwtDeadline = 10 * time.Second

// commitVersion is the project's command path: a conditional batch that
// moves order id's static version from v to v+1 and adds its event row,
// which records the version it made. It returns whether the batch applied
// and the version the order had before it.
func commitVersion(s *gocql.Session, id gocql.UUID, v int) (applied bool, before *int, err error) {
	b := s.Batch(gocql.LoggedBatch)
	b.Query(`UPDATE ks.orders SET version = ? WHERE id = ? IF version = ?`, v+1, id, v)
	b.Query(`INSERT INTO ks.orders (id, ev, made) VALUES (?, ?, ?)`, id, gocql.TimeUUID(), v+1)
	row := map[string]any{}
	applied, iter, err := s.MapExecuteBatchCAS(b, row)
	if err != nil {
		return false, nil, err
	}
	if err := iter.Close(); err != nil {
		return false, nil, err
	}
	if got, ok := row["version"].(int); ok {
		before = &got
	}
	return applied, before, nil
}

func ordersTable(t *testing.T) gocqlx.Session {
	t.Helper()
	s := setupKeyspace(t)
	exec(t, s, `CREATE TABLE ks.orders (id uuid, ev timeuuid, version int static, made int, PRIMARY KEY (id, ev))`)
	return s
}

// TestLWTLinearizablePerPartition: clients racing compare-and-set batches
// on one partition each make exactly one version, the final version is the
// number of batches applied, and every applied batch's event row is there.
func TestLWTLinearizablePerPartition(t *testing.T) {
	s := ordersTable(t)
	id := gocql.MustRandomUUID()
	exec(t, s, `INSERT INTO ks.orders (id, version) VALUES (?, 0)`, id)
	const clients, attempts = 8, 25
	var (
		mu   sync.Mutex
		made = map[int]int{} // version -> batches that claimed to make it
		wg   sync.WaitGroup
	)
	for range clients {
		wg.Go(func() {
			v := 0
			for range attempts {
				applied, before, err := commitVersion(s.Session, id, v)
				switch {
				case err != nil:
					t.Error(err)
					return
				case applied:
					mu.Lock()
					made[v+1]++
					mu.Unlock()
					v++
				case before == nil:
					t.Error("a failed batch did not report the current version")
					return
				default:
					v = *before
				}
			}
		})
	}
	wg.Wait()
	var final int
	if err := s.Session.Query(`SELECT version FROM ks.orders WHERE id = ? LIMIT 1`, id).Scan(&final); err != nil {
		t.Fatal(err)
	}
	if final != len(made) {
		t.Errorf("final version %d, but %d batches applied", final, len(made))
	}
	for v := 1; v <= final; v++ {
		if made[v] != 1 {
			t.Errorf("version %d made by %d batches, want exactly 1", v, made[v])
		}
	}
	var events []int
	if err := s.Query(`SELECT made FROM ks.orders WHERE id = ?`, nil).Bind(id).Select(&events); err != nil {
		t.Fatal(err)
	}
	if seen := countEach(events); len(events) != final || len(seen) != final {
		t.Errorf("%d event rows for %d distinct versions, want one per version of %d", len(events), len(seen), final)
	}
}

func countEach(vs []int) map[int]int {
	n := map[int]int{}
	for _, v := range vs {
		n[v]++
	}
	return n
}

// holdLWT holds the first LWT on ks.orders partition id between its read
// and its write until the test calls the returned release; held is closed
// once it is held, and gives the engine running it.
func holdLWT(t *testing.T, id gocql.UUID) (held <-chan *engine.Engine, release func()) {
	t.Helper()
	heldCh, released := make(chan *engine.Engine, 1), make(chan struct{})
	var once sync.Once
	engine.SetLWTHook(t, func(e *engine.Engine, keyspace, table string, key []byte) {
		if keyspace == "ks" && table == "orders" && string(key) == string(id[:]) {
			once.Do(func() {
				heldCh <- e
				<-released
			})
		}
	})
	var releaseOnce sync.Once
	release = func() { releaseOnce.Do(func() { close(released) }) }
	t.Cleanup(release) // never leave the server's request stuck
	return heldCh, release
}

// async runs op in a goroutine; the returned function waits for its
// result, failing the test past lwtDeadline.
func async[T any](t *testing.T, op func() (T, error)) func() T {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := op()
		done <- result{v, err}
	}()
	return func() T {
		t.Helper()
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			return r.v
		case <-time.After(lwtDeadline):
			t.Fatalf("no answer within %s", lwtDeadline)
			panic("unreachable")
		}
	}
}

func waitHeld(t *testing.T, held <-chan *engine.Engine) *engine.Engine {
	t.Helper()
	select {
	case e := <-held:
		return e
	case <-time.After(lwtDeadline):
		t.Fatalf("the LWT was not held within %s", lwtDeadline)
		return nil
	}
}

// TestLWTPartitionsProceedWhileOneIsHeld: while an LWT on partition A is
// held between its read and its write, LWTs on partition B commit, and a
// second LWT on A waits for the first, then sees its write.
func TestLWTPartitionsProceedWhileOneIsHeld(t *testing.T) {
	s := ordersTable(t)
	a, b := gocql.MustRandomUUID(), gocql.MustRandomUUID()
	for _, id := range []gocql.UUID{a, b} {
		exec(t, s, `INSERT INTO ks.orders (id, version) VALUES (?, 0)`, id)
	}
	held, release := holdLWT(t, a)
	type outcome struct {
		applied bool
		before  *int
	}
	commit := func(id gocql.UUID, v int) func() outcome {
		return async(t, func() (outcome, error) {
			applied, before, err := commitVersion(s.Session, id, v)
			return outcome{applied, before}, err
		})
	}
	first := commit(a, 0)
	e := waitHeld(t, held)

	for v := range 3 {
		if got := commit(b, v)(); !got.applied {
			t.Fatalf("LWT %d on partition B, while A is held: not applied", v)
		}
	}
	second := commit(a, 0)
	poll.Eventually(t, lwtDeadline, poll.True("the second LWT on A to wait for the first", func() bool {
		return e.LWTsOn("ks", "orders", a[:]) == 2
	}))
	release()
	if got := first(); !got.applied {
		t.Error("the held LWT was not applied")
	}
	if got := second(); got.applied || got.before == nil || *got.before != 1 {
		t.Errorf("second LWT on A: applied=%v, version before %v; want it to see the first's version 1", got.applied, got.before)
	}
	if n := e.LWTsOn("ks", "orders", a[:]); n != 0 {
		t.Errorf("%d LWTs still hold partition A's lock", n)
	}
}

// TestLWTReadsAgainAfterAChange: a plain write or a TRUNCATE does not wait
// for an LWT held on its partition, and the LWT, whose condition held when
// it read, checks it again against that change before writing.
func TestLWTReadsAgainAfterAChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(s *gocql.Session, id gocql.UUID) *gocql.Query
		want   string // the order's version after, "none" when it has no row
	}{
		{"plain write", func(s *gocql.Session, id gocql.UUID) *gocql.Query {
			return s.Query(`UPDATE ks.orders SET version = 5 WHERE id = ?`, id)
		}, "5"},
		{"truncate", func(s *gocql.Session, _ gocql.UUID) *gocql.Query {
			return s.Query(`TRUNCATE ks.orders`)
		}, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ordersTable(t)
			id := gocql.MustRandomUUID()
			exec(t, s, `INSERT INTO ks.orders (id, version) VALUES (?, 0)`, id)
			held, release := holdLWT(t, id)
			lwt := async(t, func() (bool, error) {
				applied, _, err := commitVersion(s.Session, id, 0)
				return applied, err
			})
			waitHeld(t, held)
			ctx, cancel := context.WithTimeout(context.Background(), lwtDeadline)
			defer cancel()
			if err := tc.change(s.Session, id).WithContext(ctx).Exec(); err != nil {
				t.Fatalf("%s while an LWT is held: %v", tc.name, err)
			}
			release()
			if lwt() {
				t.Errorf("the LWT applied over a %s made after its read", tc.name)
			}
			got := "none"
			var v int
			switch err := s.Session.Query(`SELECT version FROM ks.orders WHERE id = ? LIMIT 1`, id).Scan(&v); {
			case err == nil:
				got = fmt.Sprint(v)
			case !errors.Is(err, gocql.ErrNotFound):
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("version after = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestConditionalBatchRefusals: ScyllaDB's refusals of conditional batches
// and statements, for a driver batch and a text BATCH alike.
func TestConditionalBatchRefusals(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TABLE ks.lwt (a int, b int, c int, PRIMARY KEY (a, b))`)
	exec(t, s, `CREATE TABLE ks.two (a int PRIMARY KEY, b int)`)
	for _, tc := range []struct {
		stmts []string
		want  string
	}{
		{[]string{`INSERT INTO ks.lwt (a, b) VALUES (1, 1) IF NOT EXISTS`, `INSERT INTO ks.two (a, b) VALUES (1, 1)`},
			"BATCH with conditions cannot span multiple tables"},
		{[]string{`INSERT INTO ks.lwt (a, b) VALUES (1, 1) IF NOT EXISTS`, `INSERT INTO ks.lwt (a, b) VALUES (2, 1) IF NOT EXISTS`},
			"BATCH with conditions cannot span multiple partitions"},
		{[]string{`INSERT INTO ks.lwt (a, b) VALUES (1, 1) IF NOT EXISTS`, `INSERT INTO ks.lwt (a, b) VALUES (2, 1)`},
			"BATCH with conditions cannot span multiple partitions"},
		{[]string{`UPDATE ks.lwt SET c = 1 WHERE a = 1 AND b IN (1, 2) IF c = null`},
			"IN on the clustering key columns is not supported with conditional updates"},
		{[]string{`DELETE FROM ks.lwt WHERE a IN (1, 2) AND b = 1 IF EXISTS`},
			"IN on the partition key is not supported with conditional deletions"},
		{[]string{`DELETE FROM ks.lwt WHERE a = 1 IF EXISTS`},
			"DELETE statements must restrict all PRIMARY KEY columns with equality relations in order to delete non static columns"},
	} {
		b := s.Session.Batch(gocql.LoggedBatch)
		text := "BEGIN BATCH "
		for _, st := range tc.stmts {
			b.Query(st)
			text += st + "; "
		}
		text += "APPLY BATCH"
		checkInvalid(t, "driver batch", s.Session.ExecuteBatch(b), tc.want)
		checkInvalid(t, "text batch", s.Session.Query(text).Exec(), tc.want)
	}
	var n int
	if err := s.Session.Query(`SELECT COUNT(*) FROM ks.lwt`).Scan(&n); err != nil || n != 0 {
		t.Errorf("refused batches wrote %d rows (%v)", n, err)
	}
}

// checkInvalid checks that err is the server's Invalid error saying want.
func checkInvalid(t *testing.T, what string, err error, want string) {
	t.Helper()
	var re interface { // what the driver's error frames implement
		GetCode() int
		GetMessage() string
	}
	if !errors.As(err, &re) || re.GetCode() != gocql.ErrCodeInvalid || re.GetMessage() != want {
		t.Errorf("%s: %v, want Invalid %q", what, err, want)
	}
}

// TestConditionalBatchStaticColumns: the project's order shape, its state
// in static columns and an event per clustering row, committed by
// conditional batches; the result has a row per statement with the
// values before the batch.
func TestConditionalBatchStaticColumns(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TABLE ks.orders (id uuid, ev int, version int static, status text static, payload text, PRIMARY KEY (id, ev))`)
	id := gocql.MustRandomUUID()
	commit := func(ev int, status string, from *int) ([]map[string]any, bool) {
		t.Helper()
		b := s.Session.Batch(gocql.LoggedBatch)
		to := 1
		if from != nil {
			to = *from + 1
		}
		b.Query(`UPDATE ks.orders SET version = ?, status = ? WHERE id = ? IF version = ?`, to, status, id, from)
		b.Query(`INSERT INTO ks.orders (id, ev, payload) VALUES (?, ?, ?)`, id, ev, status)
		first := map[string]any{}
		applied, iter, err := s.Session.MapExecuteBatchCAS(b, first)
		if err != nil {
			t.Fatalf("commit of event %d: %v", ev, err)
		}
		rows := []map[string]any{first}
		for next := map[string]any{}; iter.MapScan(next); next = map[string]any{} {
			rows = append(rows, next)
		}
		if err := iter.Close(); err != nil {
			t.Fatal(err)
		}
		return rows, applied
	}
	one, zero := 1, 0

	rows, applied := commit(1, "NEW", nil)
	if !applied || len(rows) != 2 || rows[0]["id"] != (gocql.UUID{}) || rows[1]["version"] != 0 {
		t.Fatalf("first commit: applied=%v rows=%v; want applied, two rows of nulls", applied, rows)
	}
	rows, applied = commit(2, "STALE", &zero)
	if applied || rows[0]["version"] != 1 || rows[0]["id"] != id || rows[1]["version"] != 1 {
		t.Fatalf("stale commit: applied=%v rows=%v; want the static row (version 1) for both statements", applied, rows)
	}
	rows, applied = commit(2, "PAID", &one)
	if !applied || rows[0]["version"] != 1 {
		t.Fatalf("second commit: applied=%v rows=%v; want applied, showing version 1 before it", applied, rows)
	}
	// A condition on a static column holds for a row that does not exist
	// yet: it is checked against the static row.
	var version int
	applied, err := s.Session.Query(`UPDATE ks.orders SET version = 3, payload = 'SHIPPED' WHERE id = ? AND ev = 3 IF version = 2`, id).ScanCAS(&version)
	if err != nil || !applied || version != 2 {
		t.Fatalf("static condition on a new row: applied=%v version=%d err=%v", applied, version, err)
	}
	var events []struct {
		Ev      int
		Version int
		Status  string
		Payload string
	}
	if err := s.Query(`SELECT ev, version, status, payload FROM ks.orders WHERE id = ?`, nil).Bind(id).SelectRelease(&events); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(events); got != "[{1 3 PAID NEW} {2 3 PAID PAID} {3 3 PAID SHIPPED}]" {
		t.Errorf("orders partition = %s", got)
	}
}

// TestLWTTakesTheServerTime: an LWT is written at the server's time, not
// at the client's timestamp, and USING TIMESTAMP is refused on a
// conditional statement or batch.
func TestLWTTakesTheServerTime(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TABLE ks.lwt (k int PRIMARY KEY, v int)`)
	before := time.Now().UnixMicro()
	var v int
	if applied, err := s.Session.Query(`INSERT INTO ks.lwt (k, v) VALUES (1, 1) IF NOT EXISTS`).WithTimestamp(1000).ScanCAS(&v, &v); err != nil || !applied {
		t.Fatalf("LWT with a client timestamp: applied=%v err=%v", applied, err)
	}
	var wt int64
	if err := s.Session.Query(`SELECT writetime(v) FROM ks.lwt WHERE k = 1`).Scan(&wt); err != nil || wt < before {
		t.Errorf("writetime = %d, %v; want the server's time, at least %d", wt, err, before)
	}
	checkInvalid(t, "statement", s.Session.Query(`UPDATE ks.lwt USING TIMESTAMP 5 SET v = 2 WHERE k = 1 IF v = 1`).Exec(),
		"Cannot provide custom timestamp for conditional updates")
	checkInvalid(t, "batch", s.Session.Query(`BEGIN BATCH USING TIMESTAMP 5 UPDATE ks.lwt SET v = 2 WHERE k = 1 IF v = 1; APPLY BATCH`).Exec(),
		"Cannot provide custom timestamp for conditional BATCH")
}

// TestLWTLeaseShapes: the LWTs of infra/lease, a lease in static columns
// and progress in clustering rows: IF x = null on a missing partition and
// on a cleared static column, conditions on two static columns, and a
// static condition on a statement naming an existing clustering row, each
// returning the static values it was checked against.
func TestLWTLeaseShapes(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TABLE ks.leases (shard int, gen int, stream blob, owner text static, epoch bigint static, last int, PRIMARY KEY (shard, gen, stream))`)
	cas := func(stmt string, args ...any) (bool, map[string]any) {
		t.Helper()
		prev := map[string]any{}
		applied, err := s.Session.Query(stmt, args...).MapScanCAS(prev)
		if err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		return applied, prev
	}
	take := `UPDATE ks.leases SET owner = 'a', epoch = 1 WHERE shard = 0 IF epoch = null`
	if applied, prev := cas(take); !applied || prev["epoch"] != int64(0) {
		t.Fatalf("IF epoch = null on a missing partition: applied=%v prev=%v; want applied over null", applied, prev)
	}
	if applied, prev := cas(take); applied || prev["epoch"] != int64(1) {
		t.Fatalf("IF epoch = null on epoch 1: applied=%v prev=%v; want refused, showing epoch 1", applied, prev)
	}

	save := `UPDATE ks.leases USING TTL 60 SET last = ? WHERE shard = 0 AND gen = 1 AND stream = 0x01 IF epoch = ?`
	for _, last := range []int{1, 2} { // a new row, then the row that exists
		if applied, _ := cas(save, last, int64(1)); !applied {
			t.Fatalf("save of %d under epoch 1 refused", last)
		}
	}
	if applied, prev := cas(save, 3, int64(0)); applied || prev["epoch"] != int64(1) {
		t.Fatalf("save under a stale epoch: applied=%v prev=%v; want refused, showing epoch 1", applied, prev)
	}
	var last int
	if err := s.Session.Query(`SELECT last FROM ks.leases WHERE shard = 0 AND gen = 1 AND stream = 0x01`).Scan(&last); err != nil || last != 2 {
		t.Fatalf("saved progress = %d, %v; want 2", last, err)
	}

	release := `UPDATE ks.leases SET owner = null WHERE shard = 0 IF owner = 'a' AND epoch = 1`
	if applied, _ := cas(release); !applied {
		t.Fatal("release by the holder refused")
	}
	if applied, prev := cas(release); applied || prev["owner"] != "" || prev["epoch"] != int64(1) {
		t.Fatalf("second release: applied=%v prev=%v; want refused, showing no owner at epoch 1", applied, prev)
	}
	if applied, _ := cas(`UPDATE ks.leases SET owner = 'b', epoch = 2 WHERE shard = 0 IF owner = null AND epoch = 1`); !applied {
		t.Fatal("IF owner = null AND epoch = 1 refused on a released lease")
	}
}
