package cdc

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func TestStreamIDLayout(t *testing.T) {
	id := NewStreamID(-42, 5, 0x3ffffffffff)
	if id.Token() != -42 || id.Vnode() != 5 || id.Version() != 1 {
		t.Fatalf("token %d vnode %d version %d", id.Token(), id.Vnode(), id.Version())
	}
	want := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xd6}
	if !reflect.DeepEqual(id[:8], want) {
		t.Fatalf("token bytes % x", id[:8])
	}
	if id[15]&0x0f != 1 || (id[15]>>4) != 5 {
		t.Fatalf("low byte %#x", id[15])
	}
}

func TestGenerationShape(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC)
	g, err := NewGeneration(start, 4, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Time.Equal(start.Truncate(time.Millisecond)) {
		t.Fatalf("time %v not truncated to ms", g.Time)
	}
	if len(g.Vnodes) != 4 || g.Vnodes[3].End != math.MaxInt64 {
		t.Fatalf("vnodes %d, last end %d", len(g.Vnodes), g.Vnodes[3].End)
	}
	prevEnd := int64(math.MinInt64)
	seen := map[StreamID]bool{}
	for i, v := range g.Vnodes {
		if len(v.Streams) != 3 {
			t.Fatalf("vnode %d has %d streams", i, len(v.Streams))
		}
		for _, s := range v.Streams {
			if s.Vnode() != uint32(i) || s.Version() != 1 {
				t.Fatalf("stream %s in vnode %d reports vnode %d", s, i, s.Vnode())
			}
			if s.Token() <= prevEnd && !(i == 0 && s.Token() == prevEnd) || s.Token() > v.End {
				t.Fatalf("stream token %d outside (%d, %d]", s.Token(), prevEnd, v.End)
			}
			seen[s] = true
		}
		prevEnd = v.End
	}
	if len(seen) != 12 {
		t.Fatalf("%d distinct streams, want 12", len(seen))
	}
	again, _ := NewGeneration(start, 4, 3, 7)
	if !reflect.DeepEqual(g.Streams(), again.Streams()) {
		t.Fatal("same seed gave different streams")
	}
}

func TestStreamForIsDeterministicAndLocal(t *testing.T) {
	g, err := NewGeneration(time.Now(), 4, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	used := map[StreamID]int{}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		tok := int64(rnd.Uint64())
		s := g.StreamFor(tok)
		if s != g.StreamFor(tok) {
			t.Fatal("not deterministic")
		}
		// The stream's sub-range holds the token: its token is the first
		// stream token >= the partition token.
		if s.Token() < tok {
			t.Fatalf("token %d mapped to stream with smaller token %d", tok, s.Token())
		}
		used[s]++
	}
	if len(used) != 8 {
		t.Fatalf("2000 partitions used %d of 8 streams", len(used))
	}
	if g.StreamFor(math.MinInt64) != g.Vnodes[0].Streams[0] || g.StreamFor(math.MaxInt64) != g.Vnodes[3].Streams[1] {
		t.Fatal("ring ends map to the wrong streams")
	}
}

func TestNewGenerationRejectsBadShape(t *testing.T) {
	for _, c := range [][2]int{{0, 1}, {1, 0}, {-1, 3}, {1 << 21, 1 << 10}} {
		if _, err := NewGeneration(time.Now(), c[0], c[1], 0); err == nil {
			t.Errorf("NewGeneration(%d, %d) succeeded", c[0], c[1])
		}
	}
}
