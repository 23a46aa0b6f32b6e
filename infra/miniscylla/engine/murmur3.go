package engine

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Token is the Murmur3Partitioner token of a serialized partition key, as
// Cassandra and ScyllaDB compute it (the first half of the x64 128-bit
// MurmurHash3 with signed tail bytes; MinInt64 maps to MaxInt64).
func Token(key []byte) int64 {
	h := murmur3H1(key)
	if h == math.MinInt64 {
		return math.MaxInt64
	}
	return h
}

const (
	mmC1 = 0x87c37b91114253d5
	mmC2 = 0x4cf5ad432745937f
)

func murmur3H1(data []byte) int64 {
	var h1, h2 uint64
	n := len(data)
	body := n / 16 * 16
	for i := 0; i < body; i += 16 {
		k1 := binary.LittleEndian.Uint64(data[i:])
		k2 := binary.LittleEndian.Uint64(data[i+8:])
		h1 ^= bits.RotateLeft64(k1*mmC1, 31) * mmC2
		h1 = (bits.RotateLeft64(h1, 27)+h2)*5 + 0x52dce729
		h2 ^= bits.RotateLeft64(k2*mmC2, 33) * mmC1
		h2 = (bits.RotateLeft64(h2, 31)+h1)*5 + 0x38495ab5
	}
	tail := data[body:]
	var k1, k2 uint64
	// Cassandra reads tail bytes as signed Java bytes, so sign-extend each one.
	for i := len(tail) - 1; i >= 8; i-- {
		k2 ^= uint64(int64(int8(tail[i]))) << (8 * (i - 8))
	}
	if len(tail) > 8 {
		h2 ^= bits.RotateLeft64(k2*mmC2, 33) * mmC1
	}
	for i := min(len(tail), 8) - 1; i >= 0; i-- {
		k1 ^= uint64(int64(int8(tail[i]))) << (8 * i)
	}
	if len(tail) > 0 {
		h1 ^= bits.RotateLeft64(k1*mmC1, 31) * mmC2
	}
	h1 ^= uint64(n)
	h2 ^= uint64(n)
	h1 += h2
	h2 += h1
	h1 = fmix64(h1)
	h2 = fmix64(h2)
	return int64(h1 + h2)
}

func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}
