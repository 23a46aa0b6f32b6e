package cdc

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"testing"
)

func TestTokenMatchesCassandra(t *testing.T) {
	// Expected values from the Java driver's murmur3 (as used by gocql's tests).
	series := []uint64{
		0x0000000000000000, 0x2ac9debed546a380, 0x649e4eaa7fc1708e, 0xce68f60d7c353bdb,
		0x0f95757ce7f38254, 0x0f04e459497f3fc1, 0x88c0a92586be0a27, 0x13eb9fb82606f7a6,
		0x8236039b7387354d, 0x4c1e87519fe738ba, 0x3f9652ac3effeb24, 0x3f33760ded9006c6,
		0xaed70a6631854cb1, 0x8a299a8f8e0e2da7, 0x624b675c779249a6, 0xa4b203bb1d90b9a3,
		0xa3293ad698ecb99a, 0xbc740023dbd50048, 0x3fe5ab9837d25cdd, 0x2d0338c1ca87d132,
	}
	sample := ""
	for i, want := range series {
		if got := Token([][]byte{[]byte(sample)}); got != int64(want) {
			t.Errorf("Token(%q) = %#x, want %#x", sample, uint64(got), want)
		}
		sample += strconv.Itoa(i % 10)
	}

	signed, _ := hex.DecodeString("00104327529fb645dd00b883ec39ae448bb800000400066a6b00")
	if got := Token([][]byte{signed}); got != -9223371632693506265 {
		t.Errorf("sign-extension key: got %d", got)
	}

	// The well-known token of the int partition key 1.
	one := binary.BigEndian.AppendUint32(nil, 1)
	if got := Token([][]byte{one}); got != -4069959284402364209 {
		t.Errorf("token(int 1) = %d", got)
	}
}

func TestTokenComposite(t *testing.T) {
	a, b := []byte("ab"), []byte{1}
	want := murmur3Token([]byte{0, 2, 'a', 'b', 0, 0, 1, 1, 0})
	if got := Token([][]byte{a, b}); got != want {
		t.Fatalf("composite token = %d, want %d", got, want)
	}
}
