package cdc_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/test/harness"
)

// seen is one change as the reader delivered it.
type seen struct {
	pk, seq int
	stream  string
	at      time.Time
}

// orderedCollector records the changes of one table in consumption order.
type orderedCollector struct {
	mu   sync.Mutex
	got  []seen
	errs []string
}

func (c *orderedCollector) consume(_ context.Context, _ string, ch scyllacdc.Change) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, row := range ch.Delta {
		pk, _ := row.GetValue("pk")
		seq, _ := row.GetValue("seq")
		p, ok1 := pk.(*int)
		s, ok2 := seq.(*int)
		if !ok1 || !ok2 || p == nil || s == nil {
			c.errs = append(c.errs, "a change without its key")
			continue
		}
		c.got = append(c.got, seen{pk: *p, seq: *s, stream: string(ch.StreamID), at: ch.Time.Time()})
	}
	return nil
}

func (c *orderedCollector) snapshot() ([]seen, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got), slices.Clone(c.errs)
}

// streamSet is one stream set of the table as system.cdc_streams lists it.
type streamSet struct {
	at      time.Time
	streams map[string]bool
}

// streamSets reads the table's stream sets the way scylla-cdc-go does.
func streamSets(t *testing.T, s *gocql.Session, ks, table string) []streamSet {
	t.Helper()
	var times []time.Time
	iter := s.Query(`SELECT timestamp FROM system.cdc_timestamps WHERE keyspace_name = ? AND table_name = ?`, ks, table).Iter()
	var at time.Time
	for iter.Scan(&at) {
		times = append(times, at)
	}
	if err := iter.Close(); err != nil {
		t.Fatalf("cdc_timestamps: %v", err)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	out := make([]streamSet, len(times))
	for i, at := range times {
		out[i] = streamSet{at: at, streams: map[string]bool{}}
		iter := s.Query(`SELECT stream_id FROM system.cdc_streams WHERE keyspace_name = ? AND table_name = ? AND timestamp = ? AND stream_state = ?`,
			ks, table, at, scyllacdc.StreamStateCurrent).Iter()
		var id []byte
		for iter.Scan(&id) {
			out[i].streams[string(id)] = true
		}
		if err := iter.Close(); err != nil {
			t.Fatalf("cdc_streams: %v", err)
		}
	}
	return out
}

// TestTabletsReaderFollowsSplitAndMerge writes continuously to a CDC table
// of a tablets keyspace while its tablets split (2 -> 8) and merge (8 -> 2)
// with ALTER TABLE ... WITH tablets, and reads it with the unmodified
// scylla-cdc-go reader: every write is delivered exactly once, in write
// order per partition, each from a stream of the set operating at its
// timestamp, and the reader moves through every set.
func TestTabletsReaderFollowsSplitAndMerge(t *testing.T) {
	harness.EmbeddedOnly(t, "it checks miniscylla's tablets emulation: a split or merge within milliseconds of ALTER TABLE, one stream set per step")
	s, ks := startServer(t)
	miniscyllatest.Exec(t, s, inKeyspace(ks, "CREATE KEYSPACE {ks} WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 1}"))
	miniscyllatest.Exec(t, s, inKeyspace(ks, "CREATE TABLE {ks}.ev (pk int, seq int, PRIMARY KEY (pk, seq)) "+
		"WITH cdc = {'enabled': true} AND tablets = {'min_tablet_count': 2}"))
	table := ks + ".ev"

	c := &orderedCollector{}
	adv := fastReader()
	adv.PostGenerationFetchDelay = 100 * time.Millisecond
	r := startReader(t, &scyllacdc.ReaderConfig{
		Session: s, TableNames: []string{table},
		ChangeConsumerFactory: scyllacdc.MakeChangeConsumerFactoryFromFunc(c.consume),
		Advanced:              adv,
	})

	// One write every 2 ms, round-robin over the partitions, each partition
	// numbering its writes.
	const partitions = 16
	var written atomic.Int64
	var doneMu sync.Mutex
	var doneAt []time.Time // when each write's Exec returned
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			case <-tick.C:
			}
			if err := s.Query(`INSERT INTO `+table+` (pk, seq) VALUES (?, ?)`, i%partitions, i/partitions).Exec(); err != nil {
				done <- err
				return
			}
			doneMu.Lock()
			doneAt = append(doneAt, time.Now())
			doneMu.Unlock()
			written.Add(1)
		}
	}()
	// writeUntilPast keeps the writer going until the newest stream set has
	// operated for a second.
	writeUntilPast := func(what string) {
		sets := streamSets(t, s, ks, "ev")
		start := sets[len(sets)-1].at
		poll.Eventually(t, time.Minute, poll.True(what, func() bool { return time.Now().After(start.Add(time.Second)) }))
	}
	poll.Eventually(t, time.Minute, poll.True("writes in the first set", func() bool { return written.Load() >= 200 }))
	miniscyllatest.Exec(t, s, "ALTER TABLE "+table+" WITH tablets = {'min_tablet_count': 8}")
	writeUntilPast("the split to start")
	miniscyllatest.Exec(t, s, "ALTER TABLE "+table+" WITH tablets = {'min_tablet_count': 2}")
	writeUntilPast("the merge to start")
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}
	total := int(written.Load())
	if err := poll.Until(t.Context(), 2*time.Minute, poll.True("every write's change", func() bool {
		got, _ := c.snapshot()
		return len(got) >= total
	})); err != nil {
		doneMu.Lock()
		reportMissing(t, s, ks, c, total, partitions, doneAt)
		doneMu.Unlock()
	}
	r.stop(t)

	got, errs := c.snapshot()
	if len(errs) > 0 {
		t.Fatalf("bad changes: %v", errs)
	}
	if len(got) != total {
		t.Errorf("%d changes delivered for %d writes", len(got), total)
	}
	sets := streamSets(t, s, ks, "ev")
	if len(sets) != 5 { // 2, 4, 8 tablets, then 4, 2: one set per split or merge step
		t.Fatalf("%d stream sets, want 5", len(sets))
	}
	next := map[int]int{}
	perSet := make([]int, len(sets))
	for _, ch := range got {
		if ch.seq != next[ch.pk] {
			t.Fatalf("partition %d: got write %d, want %d (missed, repeated or out of order)", ch.pk, ch.seq, next[ch.pk])
		}
		next[ch.pk]++
		i := len(sets) - 1
		for i > 0 && ch.at.Before(sets[i].at) {
			i--
		}
		if !sets[i].streams[ch.stream] {
			t.Fatalf("partition %d write %d at %v came from a stream outside the set starting %v", ch.pk, ch.seq, ch.at, sets[i].at)
		}
		perSet[i]++
	}
	// The 4-tablet sets operate for 1 ms each; the others for seconds.
	for _, i := range []int{0, 2, 4} {
		if perSet[i] == 0 {
			t.Errorf("no change read from set %d (%d tablets): the reader did not move through it (changes per set %v)",
				i, len(sets[i].streams), perSet)
		}
	}
	t.Logf("%d writes over %d partitions; changes per stream set %v", total, partitions, perSet)
}

// reportMissing fails the test naming the writes never delivered, with
// where the log holds them.
func reportMissing(t *testing.T, s *gocql.Session, ks string, c *orderedCollector, total, partitions int, doneAt []time.Time) {
	t.Helper()
	got, _ := c.snapshot()
	have := map[[2]int]bool{}
	for _, ch := range got {
		have[[2]int{ch.pk, ch.seq}] = true
	}
	sets := streamSets(t, s, ks, "ev")
	for i := range total {
		pk, seq := i%partitions, i/partitions
		if have[[2]int{pk, seq}] {
			continue
		}
		var (
			stream []byte
			at     gocql.UUID
		)
		err := s.Query(`SELECT "cdc$stream_id", "cdc$time" FROM `+ks+`.ev_scylla_cdc_log WHERE pk = ? AND seq = ? ALLOW FILTERING`, pk, seq).Scan(&stream, &at)
		t.Errorf("write %d (partition %d, seq %d) not delivered; log: stream %x at %v (%v), acknowledged %v after its timestamp",
			i, pk, seq, stream, at.Time(), err, doneAt[i].Sub(at.Time()))
	}
	for _, set := range sets {
		t.Logf("stream set at %v: %d streams", set.at, len(set.streams))
	}
	t.FailNow()
}
