package engine

import (
	"encoding/binary"
	"hash/crc32"
)

// pagingState is the position after the last row of a page. Drivers hand
// it back verbatim, so it is untrusted input: a checksum rejects anything
// we did not produce and resume() checks it against the table's shape.
//
// The position is a partition (token and key) and, inside it, either the
// clustering key of the last row returned or "finished": a table without
// clustering columns has one row per partition, a static-only row or a
// DISTINCT row is the partition's only one, and a PER PARTITION LIMIT may
// be used up. A finished partition is skipped as a whole on resume; an
// unfinished one resumes after ck.
type pagingState struct {
	token       int64
	key         []byte
	ck          [][]byte
	finished    bool
	inPartition int // rows already returned from that partition (PER PARTITION LIMIT)
	emitted     int // rows already returned in total (LIMIT)
}

const pagingVersion = 2

func (s *pagingState) encode() []byte {
	b := []byte{'M', pagingVersion}
	b = binary.BigEndian.AppendUint64(b, uint64(s.token))
	b = binary.AppendUvarint(b, uint64(len(s.key)))
	b = append(b, s.key...)
	b = binary.AppendUvarint(b, uint64(len(s.ck)))
	for _, v := range s.ck {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	flag := byte(0)
	if s.finished {
		flag = 1
	}
	b = append(b, flag)
	b = binary.AppendUvarint(b, uint64(s.inPartition))
	b = binary.AppendUvarint(b, uint64(s.emitted))
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

// decodePagingState parses a paging state for table t; any inconsistency
// is an Invalid error naming what is wrong.
func decodePagingState(b []byte, t *Table) (*pagingState, error) {
	bad := func(why string) error { return invalidf("Invalid paging state: %s", why) }
	if len(b) < 2+8+4 || b[0] != 'M' {
		return nil, bad("not produced by this server")
	}
	if b[1] != pagingVersion {
		return nil, bad("unknown version")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, bad("checksum mismatch")
	}
	s := &pagingState{token: int64(binary.BigEndian.Uint64(body[2:10]))}
	r := &reader{b: body[10:], ok: true}
	s.key = r.bytes()
	n := r.uvarint()
	if n > uint64(len(t.Clustering)) {
		return nil, bad("more clustering values than the table has")
	}
	for i := uint64(0); i < n && r.ok; i++ {
		s.ck = append(s.ck, r.bytes())
	}
	flag := r.byte()
	s.inPartition = int(r.uvarint())
	s.emitted = int(r.uvarint())
	switch {
	case !r.ok || len(r.b) != 0 || flag > 1:
		return nil, bad("malformed")
	case Token(s.key) != s.token:
		return nil, bad("token does not match the partition key")
	}
	pk, ok := splitPartitionKey(s.key, len(t.PartitionKey))
	if !ok || len(pk) != len(t.PartitionKey) {
		return nil, bad("partition key does not fit the table")
	}
	s.finished = flag == 1
	if !s.finished && len(s.ck) != len(t.Clustering) {
		return nil, bad("clustering position does not fit the table")
	}
	// Values of the wrong shape would be compared as the table's types.
	for i, v := range pk {
		if validateValue(t.PartitionKey[i].Type, v) != nil {
			return nil, bad("partition key does not fit the table")
		}
	}
	for i, v := range s.ck {
		if validateValue(t.Clustering[i].Type, v) != nil {
			return nil, bad("clustering position does not fit the table")
		}
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
