package cdc

import (
	"errors"
	"math/bits"
	"math/rand/v2"
	"sort"
	"time"
)

// Tablets-based CDC (ScyllaDB 2025.4+): instead of one cluster-wide
// generation, each CDC table of a tablets keyspace has its own history of
// stream sets, one stream per tablet of the base table. A tablet split or
// merge starts a new set; writes with a timestamp at or after its time use
// it, earlier ones the set operating at their timestamp.

// StreamState is the stream_state column of system.cdc_streams.
type StreamState int8

// Stream states, as ScyllaDB numbers them (cdc::stream_state).
const (
	// StreamCurrent lists every stream of the set operating from a timestamp.
	StreamCurrent StreamState = 0
	// StreamClosed lists the streams of the previous set that the set ends.
	StreamClosed StreamState = 1
	// StreamOpened lists the streams the set starts.
	StreamOpened StreamState = 2
)

// MaxTablets bounds the tablets of one table (ScyllaDB has no fixed bound;
// this keeps a bad min_tablet_count from allocating millions of streams).
const MaxTablets = 1 << 12

// ErrBadTablets reports an impossible tablet count.
var ErrBadTablets = errors.New("tablet count must be a power of two between 1 and 4096")

// StreamSet is one stream set of a tablets table: from Time on, a partition
// writes to the stream of the tablet owning its token.
type StreamSet struct {
	// Time is when the set starts operating, in milliseconds precision, as
	// system.cdc_timestamps stores it.
	Time time.Time
	// Seed chose the streams' random bits; with Time and the tablet count it
	// rebuilds the same set (the write-ahead log stores these three).
	Seed uint64
	// Streams holds one stream per tablet in token order. A stream's token is
	// its tablet's last token and its vnode index is 0, as in ScyllaDB.
	Streams []StreamID
}

// NewStreamSet splits the token ring into tablets equal tablets (a power of
// two, as ScyllaDB's tablet counts are) and gives each a stream whose random
// bits come from seed, so equal arguments give equal sets.
func NewStreamSet(start time.Time, tablets int, seed uint64) (*StreamSet, error) {
	if tablets < 1 || tablets > MaxTablets || tablets&(tablets-1) != 0 {
		return nil, ErrBadTablets
	}
	rnd := rand.New(rand.NewPCG(seed, seed^0x7ab1e75))
	s := &StreamSet{Time: start.Truncate(time.Millisecond), Seed: seed, Streams: make([]StreamID, tablets)}
	for k := range s.Streams {
		s.Streams[k] = NewStreamID(slotEnd(uint64(k), uint64(tablets)), 0, rnd.Uint64())
	}
	return s, nil
}

// Tablets is the number of tablets (and streams) of the set.
func (s *StreamSet) Tablets() int { return len(s.Streams) }

// StreamFor returns the stream of the tablet owning token: the first stream
// whose token is >= token.
func (s *StreamSet) StreamFor(token int64) StreamID {
	i := sort.Search(len(s.Streams), func(i int) bool { return s.Streams[i].Token() >= token })
	if i == len(s.Streams) { // unreachable: the last token is the maximum token
		i = len(s.Streams) - 1
	}
	return s.Streams[i]
}

// TabletCount rounds n up to the tablet count ScyllaDB uses for it: the
// next power of two, at least 1, at most MaxTablets.
func TabletCount(n int) int {
	if n <= 1 {
		return 1
	}
	if n >= MaxTablets {
		return MaxTablets
	}
	return 1 << bits.Len(uint(n-1))
}

// TableStreams is the stream-set history of one tablets table, oldest
// first. It is not safe for concurrent use: the engine guards it with its
// own lock.
type TableStreams struct {
	Sets []*StreamSet
}

// Add appends a set; its time must be after the current set's.
func (h *TableStreams) Add(s *StreamSet) error {
	if cur := h.Current(); cur != nil && !s.Time.After(cur.Time) {
		return errors.New("a stream set must start after the current one")
	}
	h.Sets = append(h.Sets, s)
	return nil
}

// Current returns the newest set, or nil when there is none.
func (h *TableStreams) Current() *StreamSet {
	if len(h.Sets) == 0 {
		return nil
	}
	return h.Sets[len(h.Sets)-1]
}

// At returns the set operating at write timestamp micros: the newest one
// whose time is at or before it; ok is false when micros precedes them all.
func (h *TableStreams) At(micros int64) (set *StreamSet, ok bool) {
	for i := len(h.Sets) - 1; i >= 0; i-- {
		if h.Sets[i].Time.UnixMicro() <= micros {
			return h.Sets[i], true
		}
	}
	return nil, false
}

// Diff returns the streams set i closes (those of set i-1 it does not keep)
// and opens (its own that set i-1 lacks); the first set opens all its
// streams and closes none.
func (h *TableStreams) Diff(i int) (closed, opened []StreamID) {
	cur := h.Sets[i].Streams
	if i == 0 {
		return nil, cur
	}
	prev := h.Sets[i-1].Streams
	return missing(prev, cur), missing(cur, prev)
}

// missing returns the ids of a that b lacks, in a's order.
func missing(a, b []StreamID) []StreamID {
	in := make(map[StreamID]bool, len(b))
	for _, id := range b {
		in[id] = true
	}
	var out []StreamID
	for _, id := range a {
		if !in[id] {
			out = append(out, id)
		}
	}
	return out
}
