package engine

import "testing"

// Expected values come from gocql's internal/murmur tests, which mirror Cassandra.
func TestTokenMatchesGocql(t *testing.T) {
	cases := []struct {
		in   string
		want uint64
	}{
		{"", 0x0000000000000000},
		{"0", 0x2ac9debed546a380},
		{"01234567", 0x8236039b7387354d},
		{"012345678", 0x4c1e87519fe738ba},
		{"0123456789012345", 0xa3293ad698ecb99a},
		{"01234567890123456", 0xbc740023dbd50048},
		{"0123456789012345678", 0x2d0338c1ca87d132},
		{"hello", 0xcbd8a7b341bd9b02},
		{"hello, world", 0x342fac623a5ebc8e},
		{"19 Jan 2038 at 3:14:07 AM", 0xb89e5988b737affc},
		{"The quick brown fox jumps over the lazy dog.", 0xcd99481f9ee902c9},
	}
	for _, c := range cases {
		if got := murmur3H1([]byte(c.in)); got != int64(c.want) {
			t.Errorf("murmur3(%q) = %x, want %x", c.in, uint64(got), c.want)
		}
	}
	// Bytes >= 0x80 exercise Java's signed-byte tail reads (values from gocql's implementation).
	signed := []struct {
		in   []byte
		want uint64
	}{
		{[]byte{0xff, 0x80, 0x01}, 0x9f25023e6693df35},
		{[]byte{0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0xfa, 0xfb, 0xfc}, 0xa7455345dc701674},
	}
	for _, c := range signed {
		if got := Token(c.in); got != int64(c.want) {
			t.Errorf("Token(%x) = %x, want %x", c.in, uint64(got), c.want)
		}
	}
}
