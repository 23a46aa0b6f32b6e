package cdc_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/internal/poll"
)

// collector records every change per base table, in consumption order.
type collector struct {
	mu      sync.Mutex
	changes map[string][]scyllacdc.Change
}

func (c *collector) consume(_ context.Context, table string, ch scyllacdc.Change) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changes[table] = append(c.changes[table], ch)
	return nil
}

func (c *collector) get(table string) []scyllacdc.Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.changes[table])
}

// describe renders a change as "pre|delta|post" with each row as
// op[:ck][:ttl=n][:col=value...] for the columns of interest.
func describe(ch scyllacdc.Change) string {
	row := func(r *scyllacdc.ChangeRow) string {
		parts := []string{fmt.Sprint(int(r.GetOperation()))}
		if ck, _ := r.GetValue("ck"); ck != nil {
			if p, ok := ck.(*int); ok && p != nil {
				parts = append(parts, fmt.Sprintf("ck=%d", *p))
			}
		}
		if ttl := r.GetTTL(); ttl != 0 {
			parts = append(parts, fmt.Sprintf("ttl=%d", ttl))
		}
		for _, col := range []string{"s", "v"} {
			if v, ok := r.GetValue(col); ok {
				if p, ok := v.(*int); ok && p != nil {
					parts = append(parts, fmt.Sprintf("%s=%d", col, *p))
				}
			}
			if del, ok := r.IsDeleted(col); ok && del {
				parts = append(parts, "-"+col)
			}
		}
		if m, ok := r.GetValue("m"); ok && m != nil {
			if mm, ok := m.(map[int]string); ok && len(mm) > 0 {
				parts = append(parts, fmt.Sprintf("m=%v", mm))
			}
		}
		if del, ok := r.IsDeleted("m"); ok && del {
			parts = append(parts, "-m")
		}
		return strings.Join(parts, ":")
	}
	rows := func(rs []*scyllacdc.ChangeRow) string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = row(r)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	return rows(ch.PreImage) + "|" + rows(ch.Delta) + "|" + rows(ch.PostImage)
}

// TestEveryWriteKindIsLogged drives one partition through every kind of
// write and checks what scylla-cdc-go reads back: operations, keys, TTLs,
// deletions, pre- and post-images; LWTs that do not apply, writes to
// non-CDC tables and writes before CDC was enabled leave no change.
func TestEveryWriteKindIsLogged(t *testing.T) {
	s, ks := startServer(t)
	// One reader follows both tables: vnodes (tablets allow one table per reader).
	miniscyllatest.Exec(t, s, inKeyspace(ks, "CREATE KEYSPACE {ks} WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 1} "+
		"AND tablets = {'enabled': false}"))
	miniscyllatest.Exec(t, s, inKeyspace(ks, "CREATE TABLE {ks}.k (pk int, ck int, s int static, v int, m map<int, text>, PRIMARY KEY (pk, ck)) "+
		"WITH cdc = {'enabled': 'true', 'preimage': 'true', 'postimage': 'true', 'ttl': 600}"))
	miniscyllatest.Exec(t, s, inKeyspace(ks, "CREATE TABLE {ks}.plain (pk int PRIMARY KEY, v int)"))

	steps := []struct {
		stmt string
		want string // "" when the statement must not produce a change
	}{
		{"INSERT INTO {ks}.k (pk, ck, v) VALUES (1, 1, 10) USING TTL 100", "|2:ck=1:ttl=100:v=10|9:ck=1:v=10"},
		{"UPDATE {ks}.k SET m = m + {1: 'a'} WHERE pk = 1 AND ck = 1", "0:ck=1|1:ck=1:m=map[1:a]|9:ck=1:v=10:m=map[1:a]"},
		{"UPDATE {ks}.k SET s = 5 WHERE pk = 1", "|1:s=5|9:s=5"},
		{"INSERT INTO {ks}.k (pk, ck, v) VALUES (1, 2, 20) IF NOT EXISTS", "|2:ck=2:v=20|9:ck=2:v=20"},
		{"INSERT INTO {ks}.k (pk, ck, v) VALUES (1, 2, 30) IF NOT EXISTS", ""},
		{"BEGIN UNLOGGED BATCH INSERT INTO {ks}.k (pk, ck, v) VALUES (1, 3, 30); INSERT INTO {ks}.plain (pk, v) VALUES (1, 1); APPLY BATCH",
			"|2:ck=3:v=30|9:ck=3:v=30"},
		{"INSERT INTO {ks}.k (pk, ck, v, m) VALUES (1, 4, 40, null) USING TTL 50", "|2:ck=4:-m,2:ck=4:ttl=50:v=40|9:ck=4:v=40"},
		{"DELETE v FROM {ks}.k WHERE pk = 1 AND ck = 1", "0:ck=1:v=10|1:ck=1:-v|9:ck=1:m=map[1:a]"},
		{"DELETE FROM {ks}.k WHERE pk = 1 AND ck = 2", "0:ck=2|3:ck=2|"},
		// An unbounded end is inclusive, as ScyllaDB's top bound.
		{"DELETE FROM {ks}.k WHERE pk = 1 AND ck > 5", "|6:ck=5,7|"},
		{"DELETE FROM {ks}.k WHERE pk = 1 AND ck < 0", "|5,8:ck=0|"},
		{"DELETE FROM {ks}.k WHERE pk = 1", "|4|"},
		{"INSERT INTO {ks}.plain (pk, v) VALUES (2, 2)", ""},
		{"ALTER TABLE {ks}.plain WITH cdc = {'enabled': true}", ""},
		{"INSERT INTO {ks}.plain (pk, v) VALUES (3, 3)", "plain"},
	}
	var want []string
	for _, st := range steps {
		miniscyllatest.Exec(t, s, inKeyspace(ks, st.stmt))
		if st.want != "" && st.want != "plain" {
			want = append(want, st.want)
		}
	}

	kTable, plainTable := ks+".k", ks+".plain"
	c := &collector{changes: map[string][]scyllacdc.Change{}}
	r := startReader(t, &scyllacdc.ReaderConfig{
		Session: s, TableNames: []string{kTable, plainTable},
		ChangeConsumerFactory: scyllacdc.MakeChangeConsumerFactoryFromFunc(c.consume),
		Advanced:              fastReader(),
	})
	poll.Eventually(t, time.Minute, poll.True("the changes of both tables", func() bool {
		return len(c.get(kTable)) >= len(want) && len(c.get(plainTable)) >= 1
	}))
	r.stop(t)

	var got []string
	for _, ch := range c.get(kTable) {
		got = append(got, describe(ch))
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s changes:\n got %q\nwant %q", kTable, got, want)
	}
	plain := c.get(plainTable)
	if len(plain) != 1 || len(plain[0].Delta) != 1 {
		t.Fatalf("%s: %d changes, want only the write after ALTER", plainTable, len(plain))
	}
	if pk, _ := plain[0].Delta[0].GetValue("pk"); pk == nil || *pk.(*int) != 3 {
		t.Errorf("%s change has pk %v, want 3", plainTable, pk)
	}
}
