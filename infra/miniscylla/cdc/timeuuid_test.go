package cdc

import (
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"
)

func TestClockTimestampEqualsWriteTime(t *testing.T) {
	c := NewClock(1)
	s := NewStreamID(1, 0, 0)
	micros := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC).UnixMicro()
	u := c.Next(s, micros)
	g := gocql.UUID(u)
	if g.Version() != 1 || g.Variant() != gocql.VariantIETF {
		t.Fatalf("version %d variant %d", g.Version(), g.Variant())
	}
	if g.Time().UnixMicro() != micros || u.Micros() != micros {
		t.Fatalf("timeuuid time %v, want %d µs", g.Time(), micros)
	}
	// scylla-cdc-go's own conversion to a writetime().
	if (g.Timestamp()-gregorianOffset)/10 != micros {
		t.Fatalf("timestamp field %d", g.Timestamp())
	}
}

func TestClockStrictlyIncreasingPerStream(t *testing.T) {
	c := NewClock(2)
	a, b := NewStreamID(1, 0, 0), NewStreamID(2, 0, 0)
	base := time.Now().UnixMicro()
	var prev gocql.UUID
	for i := 0; i < 5000; i++ {
		micros := base + int64(i/100) // 100 changes per microsecond
		u := gocql.UUID(c.Next(a, micros))
		c.Next(b, micros) // another stream must not disturb a's sequence
		if i > 0 && scyllacdc.CompareTimeUUID(prev, u) >= 0 {
			t.Fatalf("change %d: %s not after %s", i, u, prev)
		}
		// Strictly inside the reader's (MinTimeUUID(t), MaxTimeUUID(t)] window.
		at := gocql.UUID(u).Time()
		if scyllacdc.CompareTimeUUID(gocql.MinTimeUUID(at), u) >= 0 || scyllacdc.CompareTimeUUID(u, gocql.MaxTimeUUID(at)) >= 0 {
			t.Fatalf("%s outside its microsecond's min/max timeuuids", u)
		}
		prev = u
	}
}

func TestClockOlderTimestampsStayUnique(t *testing.T) {
	c := NewClock(3)
	s := NewStreamID(1, 0, 0)
	seen := map[TimeUUID]bool{}
	for i := 0; i < 1000; i++ {
		u := c.Next(s, 1000+int64(i%3)*(-1)) // 1000, 999, 998, 1000, ...
		if seen[u] {
			t.Fatalf("duplicate cdc$time %x", u)
		}
		seen[u] = true
	}
}

func TestTimeUUIDCompareMatchesReader(t *testing.T) {
	c := NewClock(4)
	var us []TimeUUID
	for i := 0; i < 200; i++ {
		us = append(us, c.Next(NewStreamID(int64(i%7), 0, 0), 5_000_000+int64(i%5)))
	}
	for _, x := range us {
		for _, y := range us {
			if got, want := x.Compare(y), scyllacdc.CompareTimeUUID(gocql.UUID(x), gocql.UUID(y)); sign(got) != sign(want) {
				t.Fatalf("Compare = %d, reader says %d", got, want)
			}
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
