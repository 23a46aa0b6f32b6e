package cdc

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestTabletCount(t *testing.T) {
	for in, want := range map[int]int{-3: 1, 0: 1, 1: 1, 2: 2, 3: 4, 5: 8, 8: 8, 9: 16, MaxTablets + 1: MaxTablets} {
		if got := TabletCount(in); got != want {
			t.Errorf("TabletCount(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestNewStreamSet(t *testing.T) {
	for _, n := range []int{0, 3, MaxTablets * 2} {
		if _, err := NewStreamSet(time.Now(), n, 1); !errors.Is(err, ErrBadTablets) {
			t.Errorf("NewStreamSet(%d tablets): %v, want ErrBadTablets", n, err)
		}
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC)
	s, err := NewStreamSet(start, 4, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Time.Equal(start.Truncate(time.Millisecond)) {
		t.Errorf("time %v, want millisecond precision", s.Time)
	}
	// The tablets' last tokens, in token order; vnode index 0, version 1.
	wantTokens := []int64{math.MinInt64/2 - 1, -1, math.MaxInt64 / 2, math.MaxInt64}
	for i, id := range s.Streams {
		if id.Token() != wantTokens[i] || id.Vnode() != 0 || id.Version() != 1 {
			t.Errorf("stream %d = %s: token %d vnode %d version %d, want token %d vnode 0 version 1",
				i, id, id.Token(), id.Vnode(), id.Version(), wantTokens[i])
		}
	}
	for tok, want := range map[int64]int{math.MinInt64: 0, wantTokens[0]: 0, wantTokens[0] + 1: 1, 0: 2, math.MaxInt64: 3} {
		if got := s.StreamFor(tok); got != s.Streams[want] {
			t.Errorf("StreamFor(%d) = %s, want tablet %d", tok, got, want)
		}
	}
	again, _ := NewStreamSet(start, 4, 7)
	other, _ := NewStreamSet(start, 4, 8)
	if again.Streams[0] != s.Streams[0] || other.Streams[0] == s.Streams[0] {
		t.Error("stream ids must depend on the seed only")
	}
}

func TestTableStreams(t *testing.T) {
	t0 := time.UnixMilli(1_000_000)
	var h TableStreams
	if _, ok := h.At(t0.UnixMicro()); ok || h.Current() != nil {
		t.Fatal("an empty history has a set")
	}
	a, _ := NewStreamSet(t0, 2, 1)
	b, _ := NewStreamSet(t0.Add(time.Second), 4, 2)
	if err := h.Add(a); err != nil {
		t.Fatal(err)
	}
	if err := h.Add(a); err == nil {
		t.Error("a set not after the current one was added")
	}
	if err := h.Add(b); err != nil {
		t.Fatal(err)
	}
	for micros, want := range map[int64]*StreamSet{
		t0.UnixMicro() - 1: nil, t0.UnixMicro(): a, b.Time.UnixMicro() - 1: a, b.Time.UnixMicro(): b, b.Time.UnixMicro() + 1e9: b,
	} {
		got, ok := h.At(micros)
		if (want == nil) == ok || got != want {
			t.Errorf("At(%d) = %v, %v", micros, got, ok)
		}
	}
	closed, opened := h.Diff(0)
	if len(closed) != 0 || len(opened) != 2 {
		t.Errorf("first set closes %d, opens %d; want 0, 2", len(closed), len(opened))
	}
	closed, opened = h.Diff(1)
	if len(closed) != 2 || len(opened) != 4 || closed[0] != a.Streams[0] {
		t.Errorf("split closes %d, opens %d; want 2, 4", len(closed), len(opened))
	}
}
