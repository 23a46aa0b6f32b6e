package miniscylla

import (
	"encoding/binary"
	"fmt"

	"github.com/golang/snappy"
	"github.com/pierrec/lz4/v4"
)

// compressor is a CQL body compression negotiated in STARTUP. The codec
// library's own compressors trust the peer's length prefixes or cap the
// decompression ratio at 8x; these bound every allocation by the frame limit
// and honour the declared length.
type compressor interface {
	// compress appends the compressed form of src to dst.
	compress(dst, src []byte) ([]byte, error)
	// decompress returns src decompressed, failing if it exceeds max bytes.
	decompress(src []byte, max int) ([]byte, error)
	// declaredLen returns the decompressed size src declares, if readable.
	declaredLen(src []byte) (int, bool)
}

// compressors maps the STARTUP COMPRESSION names we advertise to
// constructors; each connection gets its own because lz4 keeps a hash table.
var compressors = map[string]func() compressor{
	"lz4":    func() compressor { return &lz4Compressor{} },
	"snappy": func() compressor { return snappyCompressor{} },
}

// lz4Compressor is Cassandra's lz4 body format: a big-endian uint32
// uncompressed length followed by one lz4 block.
// It is not safe for concurrent use.
type lz4Compressor struct{ c lz4.Compressor }

func (z *lz4Compressor) compress(dst, src []byte) ([]byte, error) {
	start := len(dst)
	bound := lz4.CompressBlockBound(len(src))
	dst = grow(dst, 4+bound)[:start+4+bound]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(src)))
	// With a destination of CompressBlockBound bytes lz4 always succeeds.
	n, err := z.c.CompressBlock(src, dst[start+4:])
	if err != nil {
		return nil, fmt.Errorf("lz4: %w", err)
	}
	return dst[:start+4+n], nil
}

func (*lz4Compressor) declaredLen(src []byte) (int, bool) {
	if len(src) < 4 {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(src)), true
}

func (*lz4Compressor) decompress(src []byte, max int) ([]byte, error) {
	if len(src) < 4 {
		return nil, fmt.Errorf("lz4 body of %d bytes has no length prefix", len(src))
	}
	n := binary.BigEndian.Uint32(src)
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("lz4 body declares %d bytes, more than the %d byte limit", n, max)
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]byte, n)
	got, err := lz4.UncompressBlock(src[4:], out)
	if err != nil {
		return nil, fmt.Errorf("lz4: %w", err)
	}
	if got != int(n) {
		return nil, fmt.Errorf("lz4 body declares %d bytes but holds %d", n, got)
	}
	return out, nil
}

// snappyCompressor is Cassandra's snappy body format: one raw snappy block.
type snappyCompressor struct{}

func (snappyCompressor) compress(dst, src []byte) ([]byte, error) {
	start := len(dst)
	dst = grow(dst, snappy.MaxEncodedLen(len(src)))
	enc := snappy.Encode(dst[start:cap(dst)], src)
	return dst[:start+len(enc)], nil
}

func (snappyCompressor) declaredLen(src []byte) (int, bool) {
	n, err := snappy.DecodedLen(src)
	return n, err == nil
}

func (snappyCompressor) decompress(src []byte, max int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	if n > max {
		return nil, fmt.Errorf("snappy body declares %d bytes, more than the %d byte limit", n, max)
	}
	out, err := snappy.Decode(nil, src)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	return out, nil
}

// grow returns b with room for n more bytes beyond len(b), and len unchanged.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}
