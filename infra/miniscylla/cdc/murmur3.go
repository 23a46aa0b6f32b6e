package cdc

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Token returns the Murmur3Partitioner token of a partition key given as the
// serialized values of its components (in key order). A single component is
// hashed as is; a composite key as Cassandra's composite encoding (uint16
// length, bytes, 0x00 per component), exactly what drivers route by.
func Token(components [][]byte) int64 {
	if len(components) == 1 {
		return murmur3Token(components[0])
	}
	var key []byte
	for _, c := range components {
		key = binary.BigEndian.AppendUint16(key, uint16(len(c)))
		key = append(key, c...)
		key = append(key, 0)
	}
	return murmur3Token(key)
}

// murmur3Token is the h1 half of MurmurHash3 x64_128 with seed 0, with
// Cassandra's quirk of sign-extending tail bytes, and its normalisation of
// the minimum token (which is reserved) to the maximum.
func murmur3Token(data []byte) int64 {
	const (
		c1 = 0x87c37b91114253d5
		c2 = 0x4cf5ad432745937f
	)
	var h1, h2 uint64
	n := len(data)
	body := n / 16 * 16
	for i := 0; i < body; i += 16 {
		k1 := binary.LittleEndian.Uint64(data[i:])
		k2 := binary.LittleEndian.Uint64(data[i+8:])
		h1 ^= bits.RotateLeft64(k1*c1, 31) * c2
		h1 = (bits.RotateLeft64(h1, 27)+h2)*5 + 0x52dce729
		h2 ^= bits.RotateLeft64(k2*c2, 33) * c1
		h2 = (bits.RotateLeft64(h2, 31)+h1)*5 + 0x38495ab5
	}
	var k1, k2 uint64
	tail := data[body:]
	for i := len(tail) - 1; i >= 0; i-- {
		v := uint64(int64(int8(tail[i]))) // sign extension, as Cassandra does
		if i >= 8 {
			k2 ^= v << (8 * (i - 8))
		} else {
			k1 ^= v << (8 * i)
		}
	}
	if len(tail) > 8 {
		h2 ^= bits.RotateLeft64(k2*c2, 33) * c1
	}
	if len(tail) > 0 {
		h1 ^= bits.RotateLeft64(k1*c1, 31) * c2
	}
	h1 ^= uint64(n)
	h2 ^= uint64(n)
	h1 += h2
	h2 += h1
	h1 = fmix64(h1)
	h2 = fmix64(h2)
	t := int64(h1 + h2)
	if t == math.MinInt64 {
		return math.MaxInt64
	}
	return t
}

func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}
