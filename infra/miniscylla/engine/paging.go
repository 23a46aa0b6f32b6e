package engine

import (
	"encoding/binary"
	"hash/crc32"
)

// pagingState is the position after the last row of a page. It is opaque
// to clients; a checksum rejects anything we did not produce.
type pagingState struct {
	key         []byte
	ck          [][]byte
	static      bool // the last row was a partition's static-only row
	inPartition int  // rows already returned from that partition
	emitted     int  // rows already returned in total (for LIMIT)
}

const pagingVersion = 1

func (s *pagingState) encode() []byte {
	b := []byte{'M', pagingVersion}
	b = binary.AppendUvarint(b, uint64(len(s.key)))
	b = append(b, s.key...)
	b = binary.AppendUvarint(b, uint64(len(s.ck)))
	for _, v := range s.ck {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	flag := byte(0)
	if s.static {
		flag = 1
	}
	b = append(b, flag)
	b = binary.AppendUvarint(b, uint64(s.inPartition))
	b = binary.AppendUvarint(b, uint64(s.emitted))
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func decodePagingState(b []byte) (*pagingState, error) {
	bad := invalidf("Invalid paging state")
	if len(b) < 7 || b[0] != 'M' || b[1] != pagingVersion {
		return nil, bad
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, bad
	}
	r := &reader{b: body[2:], ok: true}
	s := &pagingState{key: r.bytes()}
	n := r.uvarint()
	if n > uint64(len(body)) {
		return nil, bad
	}
	for i := uint64(0); i < n && r.ok; i++ {
		s.ck = append(s.ck, r.bytes())
	}
	s.static = r.byte() == 1
	s.inPartition = int(r.uvarint())
	s.emitted = int(r.uvarint())
	if !r.ok || len(r.b) != 0 || s.inPartition < 0 || s.emitted < 0 {
		return nil, bad
	}
	return s, nil
}

// reader decodes the paging state; ok turns false at the first error.
type reader struct {
	b  []byte
	ok bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > 1<<31 {
		r.ok = false
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.ok = false
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.ok = false
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}
