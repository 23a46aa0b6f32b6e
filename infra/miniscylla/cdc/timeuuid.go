package cdc

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
)

// TimeUUID is a version-1 UUID, the type of cdc$time.
type TimeUUID [16]byte

// gregorianOffset is the number of 100 ns intervals between the UUID epoch
// (1582-10-15) and the Unix epoch.
const gregorianOffset = 0x01B21DD213814000

// Micros returns the timestamp of u in microseconds since the Unix epoch,
// which for cdc$time equals writetime() of the change.
func (u TimeUUID) Micros() int64 {
	hi := uint64(binary.BigEndian.Uint16(u[6:8]) & 0x0fff)
	mid := uint64(binary.BigEndian.Uint16(u[4:6]))
	low := uint64(binary.BigEndian.Uint32(u[0:4]))
	return (int64(hi<<48|mid<<32|low) - gregorianOffset) / 10
}

// Compare orders timeuuids as ScyllaDB and scylla-cdc-go do: by timestamp,
// then by bytes 8-15 compared as signed bytes.
func (u TimeUUID) Compare(v TimeUUID) int {
	tu, tv := u.timestamp(), v.timestamp()
	switch {
	case tu < tv:
		return -1
	case tu > tv:
		return 1
	}
	for i := 8; i < 16; i++ {
		if d := int(int8(u[i])) - int(int8(v[i])); d != 0 {
			if d < 0 {
				return -1
			}
			return 1
		}
	}
	return 0
}

func (u TimeUUID) timestamp() uint64 {
	hi := uint64(binary.BigEndian.Uint16(u[6:8]) & 0x0fff)
	return hi<<48 | uint64(binary.BigEndian.Uint16(u[4:6]))<<32 | uint64(binary.BigEndian.Uint32(u[0:4]))
}

// newTimeUUID builds a timeuuid at micros whose low qword sorts as order
// under the signed-byte comparison. order must be below 2^62 (the variant
// bits take the top two bits).
func newTimeUUID(micros int64, order uint64) TimeUUID {
	var u TimeUUID
	ts := uint64(micros*10 + gregorianOffset)
	binary.BigEndian.PutUint32(u[0:4], uint32(ts))
	binary.BigEndian.PutUint16(u[4:6], uint16(ts>>32))
	binary.BigEndian.PutUint16(u[6:8], uint16(ts>>48)&0x0fff|0x1000)
	// Flipping each byte's top bit turns unsigned order into signed-byte
	// order; it also sets the RFC 4122 variant (top bits 1 and 0) in byte 8.
	binary.BigEndian.PutUint64(u[8:], order^0x8080808080808080)
	return u
}

// Clock hands out cdc$time values. ScyllaDB uses random low bits; Clock does
// too, except that a second change in the same stream at the same or an
// earlier-seen maximum microsecond gets the previous low bits plus one, so
// per stream the values at the newest microsecond are strictly increasing
// and never collide. It is safe for concurrent use.
type Clock struct {
	mu   sync.Mutex
	rnd  *rand.Rand
	last map[StreamID]TimeUUID
}

// orderSpan bounds random low bits so that +1 steps never reach the variant
// bits; it excludes 0 because the all-0x80 low qword is MinTimeUUID, which
// the reader's exclusive lower bound would skip.
const orderSpan = 1 << 61

// NewClock returns a clock seeded for reproducible tests; pass a random seed
// in production.
func NewClock(seed uint64) *Clock {
	return &Clock{rnd: rand.New(rand.NewPCG(seed, ^seed)), last: make(map[StreamID]TimeUUID)}
}

// Next returns a new cdc$time for a change in stream s written at micros.
func (c *Clock) Next(s StreamID, micros int64) TimeUUID {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, seen := c.last[s]
	switch {
	case seen && prev.Micros() == micros:
		u := newTimeUUID(micros, binary.BigEndian.Uint64(prev[8:])^0x8080808080808080+1)
		c.last[s] = u
		return u
	case seen && prev.Micros() > micros:
		// A write with an older USING TIMESTAMP: random bits keep it unique.
		return newTimeUUID(micros, 1+c.rnd.Uint64N(orderSpan))
	default:
		u := newTimeUUID(micros, 1+c.rnd.Uint64N(orderSpan))
		c.last[s] = u
		return u
	}
}
