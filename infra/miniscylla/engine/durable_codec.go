package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The write-ahead log's record payloads: one kind byte, then the kind's
// fields. Integers are varints, byte strings carry their length plus one so
// that nil (a deletion) and empty (an empty value) stay distinct.
const (
	// recGeneration is the node's CDC generation, always the log's first record.
	recGeneration byte = iota + 1
	// recDDL is a schema change: the session keyspace and the statement text,
	// re-executed on replay (schema changes are deterministic given the schema).
	recDDL
	// recWrite is one atomic apply: the time it ran at and its mutations,
	// CDC log mutations included, with every server-chosen value resolved.
	recWrite
	// recStreamSet is a CDC stream set of a tablets table (keyspace, table,
	// start in ms, tablet count, stream seed), logged after the schema change
	// that created it; replayed schema changes create none (tablets.go).
	recStreamSet
)

// ErrBadRecord reports a write-ahead log record that passed its checksum but
// does not decode or apply: a bug or a log from an incompatible version.
var ErrBadRecord = errors.New("engine: bad write-ahead log record")

type recEncoder struct{ b []byte }

func (w *recEncoder) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *recEncoder) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *recEncoder) str(s string)  { w.uint(uint64(len(s))); w.b = append(w.b, s...) }

func (w *recEncoder) bytes(v []byte) {
	if v == nil {
		w.uint(0)
		return
	}
	w.uint(uint64(len(v)) + 1)
	w.b = append(w.b, v...)
}

func (w *recEncoder) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *recEncoder) list(vs [][]byte) {
	w.uint(uint64(len(vs)))
	for _, v := range vs {
		w.bytes(v)
	}
}

func (w *recEncoder) bound(b Bound) {
	w.list(b.Prefix)
	w.bool(b.Inclusive)
}

func (w *recEncoder) mutation(m *Mutation) {
	w.str(m.Keyspace)
	w.str(m.Table)
	w.bytes(m.Key)
	w.bool(m.DeletePartition)
	w.int(m.DeleteTS)
	w.uint(uint64(len(m.RangeDeletes)))
	for _, rd := range m.RangeDeletes {
		w.bound(rd.Start)
		w.bound(rd.End)
		w.int(rd.TS)
	}
	w.uint(uint64(len(m.Rows)))
	for i := range m.Rows {
		r := &m.Rows[i]
		w.list(r.Clustering)
		w.bool(r.Static)
		w.bool(r.Delete)
		w.bool(r.Marker)
		w.int(r.TS)
		w.int(int64(r.TTL))
		w.int(r.ExpiresAt)
		w.uint(uint64(len(r.Cells)))
		for _, c := range r.Cells {
			w.str(c.Column)
			w.b = append(w.b, byte(c.Op))
			w.bytes(c.Key)
			w.bytes(c.Value)
		}
	}
}

func encodeGeneration(timeNanos int64, seed uint64) []byte {
	w := recEncoder{b: []byte{recGeneration}}
	w.int(timeNanos)
	w.uint(seed)
	return w.b
}

func encodeDDL(keyspace, query string) []byte {
	w := recEncoder{b: []byte{recDDL}}
	w.str(keyspace)
	w.str(query)
	return w.b
}

func encodeStreamSet(keyspace, table string, millis int64, tablets int, seed uint64) []byte {
	w := recEncoder{b: []byte{recStreamSet}}
	w.str(keyspace)
	w.str(table)
	w.int(millis)
	w.uint(uint64(tablets))
	w.uint(seed)
	return w.b
}

// encodeWrite encodes the mutation lists of one apply, in apply order.
func encodeWrite(now int64, lists ...[]Mutation) []byte {
	w := recEncoder{b: make([]byte, 0, 256)}
	w.b = append(w.b, recWrite)
	w.int(now)
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	w.uint(uint64(n))
	for _, l := range lists {
		for i := range l {
			w.mutation(&l[i])
		}
	}
	return w.b
}

// recDecoder reads a record; the first malformed field sets err and every
// later read returns zero values.
type recDecoder struct {
	b   []byte
	err error
}

func (r *recDecoder) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: bad %s", ErrBadRecord, what)
	}
	r.b = nil
}

func (r *recDecoder) int() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("integer")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recDecoder) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("length")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a collection size, bounded by the bytes left (each element
// takes at least one byte) so a corrupt size cannot allocate much.
func (r *recDecoder) count() int {
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.fail("count")
		return 0
	}
	return int(n)
}

func (r *recDecoder) take(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.fail("byte string")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *recDecoder) str() string { return string(r.take(r.uint())) }

func (r *recDecoder) bytes() []byte {
	n := r.uint()
	if n == 0 {
		return nil
	}
	// Copied: the record buffer is only valid during replay.
	return append([]byte{}, r.take(n-1)...)
}

func (r *recDecoder) byte() byte {
	v := r.take(1)
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

func (r *recDecoder) bool() bool { return r.byte() != 0 }

func (r *recDecoder) list() [][]byte {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = r.bytes()
	}
	return out
}

func (r *recDecoder) bound() Bound {
	return Bound{Prefix: r.list(), Inclusive: r.bool()}
}

func (r *recDecoder) mutation() Mutation {
	m := Mutation{Keyspace: r.str(), Table: r.str(), Key: r.bytes(), DeletePartition: r.bool(), DeleteTS: r.int()}
	if n := r.count(); n > 0 {
		m.RangeDeletes = make([]RangeDelete, n)
		for i := range m.RangeDeletes {
			m.RangeDeletes[i] = RangeDelete{Start: r.bound(), End: r.bound(), TS: r.int()}
		}
	}
	if n := r.count(); n > 0 {
		m.Rows = make([]RowWrite, n)
		for i := range m.Rows {
			m.Rows[i] = r.row()
		}
	}
	return m
}

func (r *recDecoder) row() RowWrite {
	w := RowWrite{Clustering: r.list(), Static: r.bool(), Delete: r.bool(), Marker: r.bool(), TS: r.int()}
	ttl := r.int()
	if ttl < 0 || ttl > 1<<31-1 {
		r.fail("ttl")
	}
	w.TTL, w.ExpiresAt = int32(ttl), r.int()
	if n := r.count(); n > 0 {
		w.Cells = make([]CellWrite, n)
		for i := range w.Cells {
			w.Cells[i] = CellWrite{Column: r.str(), Op: CellOp(r.byte()), Key: r.bytes(), Value: r.bytes()}
			if op := w.Cells[i].Op; op < CellSet || op > CellListRemove {
				r.fail("cell operation")
			}
		}
	}
	return w
}

// done reports the first error, or trailing bytes.
func (r *recDecoder) done() error {
	if r.err == nil && len(r.b) > 0 {
		r.fail("record: trailing bytes")
	}
	return r.err
}
