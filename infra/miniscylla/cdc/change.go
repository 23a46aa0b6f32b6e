package cdc

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strings"
)

// Operation is a cdc$operation code.
type Operation int8

// Operation codes, as ScyllaDB numbers them.
const (
	OpPreImage                  Operation = 0
	OpUpdate                    Operation = 1
	OpInsert                    Operation = 2
	OpRowDelete                 Operation = 3
	OpPartitionDelete           Operation = 4
	OpRangeDeleteStartInclusive Operation = 5
	OpRangeDeleteStartExclusive Operation = 6
	OpRangeDeleteEndInclusive   Operation = 7
	OpRangeDeleteEndExclusive   Operation = 8
	OpPostImage                 Operation = 9
)

// Names of the log table's own columns.
const (
	ColStreamID   = "cdc$stream_id"
	ColTime       = "cdc$time"
	ColBatchSeqNo = "cdc$batch_seq_no"
	ColOperation  = "cdc$operation"
	ColTTL        = "cdc$ttl"
	ColEndOfBatch = "cdc$end_of_batch"
)

// LogTableSuffix ends the name of every CDC log table.
const LogTableSuffix = "_scylla_cdc_log"

// LogTableName is the name of the log table of base table base.
func LogTableName(base string) string { return base + LogTableSuffix }

// IsLogTable reports whether name is a CDC log table's name.
func IsLogTable(name string) bool { return strings.HasSuffix(name, LogTableSuffix) }

// DeletedColumn is the log column flagging that base column name was deleted
// (or, for collections and UDTs, overwritten as a whole).
func DeletedColumn(name string) string { return "cdc$deleted_" + name }

// DeletedElementsColumn is the log column listing the elements (map keys,
// set elements, list cell keys, UDT field indices) removed from base column
// name.
func DeletedElementsColumn(name string) string { return "cdc$deleted_elements_" + name }

// Delta is one delta row: what one statement did to one row of the base
// table. Cells maps log column names (X, cdc$deleted_X,
// cdc$deleted_elements_X) to encoded values; a nil value is a null.
type Delta struct {
	Op Operation
	// TTL is the TTL in seconds of the live cells written, 0 for none.
	TTL   int64
	Cells map[string][]byte
}

// RowChange is what one change did to one base row, or to the partition
// (static columns, partition and range deletions) when Keys lacks the
// clustering columns.
type RowChange struct {
	// Keys holds the base key columns' values; every log row of the change
	// carries them.
	Keys   map[string][]byte
	Deltas []Delta
	// Before and After are the whole row, keys excluded, in log-column
	// encoding, before and after the change; nil when the row did not (does
	// not) exist. Only read when pre- or post-images are enabled.
	Before, After map[string][]byte
}

// Change is everything one write did to one base partition at one
// timestamp: the unit scylla-cdc-go consumes.
type Change struct {
	// Token is the base partition's Murmur3 token; it selects the stream.
	Token int64
	// Micros is the write timestamp; cdc$time carries it.
	Micros int64
	Rows   []RowChange
}

// LogRow is one row to store in the log table, its cdc$ columns included.
// The caller writes its cells with timestamp Change.Micros and TTL
// Options.TTL.
type LogRow struct {
	Stream StreamID
	Time   TimeUUID
	SeqNo  int32
	Cells  map[string][]byte
}

// Log turns changes into log rows for one generation. It is safe for
// concurrent use.
type Log struct {
	gen   *Generation
	clock *Clock
}

// NewLog returns a Log writing to gen's streams with times from clock.
func NewLog(gen *Generation, clock *Clock) *Log {
	return &Log{gen: gen, clock: clock}
}

// Generation returns the generation the log writes to.
func (l *Log) Generation() *Generation { return l.gen }

// Rows returns the log rows of change c under table options opts, in log
// order: pre-images, deltas, post-images, batch_seq_no 0..n-1 and
// cdc$end_of_batch on the last row only, in the generation's stream of the
// change's token. It returns nil for a change without deltas. Call it under
// the lock that applies the rows, so that a reader never sees a later
// cdc$time of the stream before an earlier one.
func (l *Log) Rows(opts Options, c Change) []LogRow {
	return l.RowsIn(l.gen.StreamFor(c.Token), opts, c)
}

// RowsIn is Rows in the given stream: a tablets table's stream, chosen by
// its own stream sets rather than the node's generation.
func (l *Log) RowsIn(stream StreamID, opts Options, c Change) []LogRow {
	var rows []map[string][]byte
	for _, r := range c.Rows {
		if opts.Preimage != ImageOff && r.Before != nil && len(r.Deltas) > 0 {
			rows = append(rows, imageRow(OpPreImage, r, r.Before, preimageFilter(opts, r)))
		}
	}
	for _, r := range c.Rows {
		for _, d := range r.Deltas {
			rows = append(rows, deltaRow(opts, r, d))
		}
	}
	if len(rows) == 0 {
		return nil
	}
	for _, r := range c.Rows {
		if opts.Postimage && r.After != nil && len(r.Deltas) > 0 {
			rows = append(rows, imageRow(OpPostImage, r, r.After, nil))
		}
	}
	t := l.clock.Next(stream, c.Micros)
	out := make([]LogRow, len(rows))
	streamID, timeID := bytes.Clone(stream[:]), bytes.Clone(t[:]) // shared by the rows, never written
	for i, cells := range rows {
		cells[ColStreamID] = streamID
		cells[ColTime] = timeID
		cells[ColBatchSeqNo] = binary.BigEndian.AppendUint32(nil, uint32(i))
		if i == len(rows)-1 {
			cells[ColEndOfBatch] = []byte{1}
		}
		out[i] = LogRow{Stream: stream, Time: t, SeqNo: int32(i), Cells: cells}
	}
	return out
}

func newRow(op Operation, keys map[string][]byte, size int) map[string][]byte {
	cells := make(map[string][]byte, len(keys)+size+5)
	for k, v := range keys {
		cells[k] = v
	}
	cells[ColOperation] = []byte{byte(op)}
	return cells
}

func deltaRow(opts Options, r RowChange, d Delta) map[string][]byte {
	cells := newRow(d.Op, r.Keys, len(d.Cells))
	if opts.Delta == DeltaFull {
		for k, v := range d.Cells {
			cells[k] = v
		}
	}
	if d.TTL > 0 {
		cells[ColTTL] = binary.BigEndian.AppendUint64(nil, uint64(d.TTL))
	}
	return cells
}

// imageRow builds a pre- or post-image row of the columns of image that keep
// accepts (all when keep is nil).
func imageRow(op Operation, r RowChange, image map[string][]byte, keep func(string) bool) map[string][]byte {
	cells := newRow(op, r.Keys, len(image))
	for k, v := range image {
		if keep == nil || keep(k) {
			cells[k] = v
		}
	}
	return cells
}

// preimageFilter keeps, for 'preimage': true, only the columns the deltas
// touch; 'full' keeps them all.
func preimageFilter(opts Options, r RowChange) func(string) bool {
	if opts.Preimage == ImageFull {
		return nil
	}
	touched := make(map[string]bool)
	for _, d := range r.Deltas {
		for k := range d.Cells {
			k = strings.TrimPrefix(k, "cdc$deleted_elements_")
			k = strings.TrimPrefix(k, "cdc$deleted_")
			touched[k] = true
		}
	}
	return func(col string) bool { return touched[col] }
}

// EncodeBlobSet encodes ids as a frozen<set<blob>> value (sorted, as sets
// are), the type of cdc_streams_descriptions_v2.streams.
func EncodeBlobSet(ids []StreamID) []byte {
	sorted := append([]StreamID(nil), ids...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i][:], sorted[j][:]) < 0 })
	out := binary.BigEndian.AppendUint32(nil, uint32(len(sorted)))
	for _, id := range sorted {
		out = binary.BigEndian.AppendUint32(out, 16)
		out = append(out, id[:]...)
	}
	return out
}
