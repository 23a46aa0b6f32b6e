package cdc

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/bits"
	"math/rand/v2"
	"sort"
	"time"
)

// StreamID is a CDC stream id: the partition key of the log table.
// Bytes 0-7 hold the stream's token (big-endian int64); the low qword holds
// the version (bits 0-3, always 1), the vnode index (bits 4-25) and random
// bits (26-63). scylla-cdc-go groups streams by that vnode index.
type StreamID [16]byte

const (
	streamVersion = 1
	maxVnodes     = 1 << 22
)

// NewStreamID builds a version-1 stream id.
func NewStreamID(token int64, vnode uint32, random uint64) StreamID {
	var id StreamID
	binary.BigEndian.PutUint64(id[:8], uint64(token))
	low := random<<26 | uint64(vnode&(maxVnodes-1))<<4 | streamVersion
	binary.BigEndian.PutUint64(id[8:], low)
	return id
}

// Token is the token stored in the stream id (its log partition's token).
func (s StreamID) Token() int64 { return int64(binary.BigEndian.Uint64(s[:8])) }

// Vnode is the vnode index stored in the stream id.
func (s StreamID) Vnode() uint32 {
	return uint32(binary.BigEndian.Uint64(s[8:])>>4) & (maxVnodes - 1)
}

// Version is the stream id format version (1).
func (s StreamID) Version() int { return int(s[15] & 0x0f) }

// String returns the 16 bytes in hex, as cqlsh prints a blob without 0x.
func (s StreamID) String() string { return hex.EncodeToString(s[:]) }

// Vnode is one token range of a generation, (previous End, End], and the
// streams that carry changes of partitions whose token falls in it.
type Vnode struct {
	End     int64
	Streams []StreamID
}

// Generation is a CDC generation: from Time on, every partition token maps to
// one stream. A node keeps one generation for its lifetime.
type Generation struct {
	// Time is the generation timestamp, in milliseconds precision, as stored in
	// system_distributed.cdc_generation_timestamps.
	Time   time.Time
	Vnodes []Vnode
	// slots are all streams sorted by the end of the token sub-range they own.
	slots []slot
}

type slot struct {
	end    int64
	stream StreamID
}

// ErrBadGeneration reports an impossible generation shape.
var ErrBadGeneration = errors.New("invalid cdc generation")

// NewGeneration splits the token ring into vnodes equal ranges, each split
// into streamsPerVnode equal sub-ranges; each sub-range gets one stream whose
// token is the sub-range's last token. The random bits come from seed, so
// equal arguments give equal generations.
func NewGeneration(start time.Time, vnodes, streamsPerVnode int, seed uint64) (*Generation, error) {
	if vnodes < 1 || vnodes > maxVnodes || streamsPerVnode < 1 || vnodes*streamsPerVnode > 1<<20 {
		return nil, ErrBadGeneration
	}
	rnd := rand.New(rand.NewPCG(seed, seed^0x5eed))
	total := uint64(vnodes * streamsPerVnode)
	g := &Generation{Time: start.Truncate(time.Millisecond), Vnodes: make([]Vnode, vnodes)}
	for k := uint64(0); k < total; k++ {
		end := slotEnd(k, total)
		v := int(k) / streamsPerVnode
		id := NewStreamID(end, uint32(v), rnd.Uint64())
		g.Vnodes[v].Streams = append(g.Vnodes[v].Streams, id)
		g.Vnodes[v].End = end
		g.slots = append(g.slots, slot{end: end, stream: id})
	}
	return g, nil
}

// slotEnd is the last token of sub-range k of n equal sub-ranges of the ring.
func slotEnd(k, n uint64) int64 {
	var u uint64 = 1<<64 - 1
	if k+1 < n {
		q, _ := bits.Div64(k+1, 0, n) // floor((k+1) * 2^64 / n)
		u = q - 1
	}
	return int64(u ^ 1<<63) // ring position -> signed token
}

// StreamFor returns the stream of the partition with the given token: the
// stream owning the first sub-range whose end is >= token.
func (g *Generation) StreamFor(token int64) StreamID {
	i := sort.Search(len(g.slots), func(i int) bool { return g.slots[i].end >= token })
	if i == len(g.slots) { // unreachable: the last end is the maximum token
		i = 0
	}
	return g.slots[i].stream
}

// Streams returns every stream of the generation in vnode order.
func (g *Generation) Streams() []StreamID {
	out := make([]StreamID, len(g.slots))
	for i, s := range g.slots {
		out[i] = s.stream
	}
	return out
}
