package engine

// Mutation is every change one statement (or batch) makes to one partition
// of one table. It is plain data, with no pointers into storage, so that it
// can be logged before it is applied and replayed later; all timestamps and
// expiry times are resolved when the mutation is built.
type Mutation struct {
	Keyspace string
	Table    string
	// Key is the serialized partition key (the routing key: the single key
	// column's value, or each component as <len16><bytes><0x00>).
	Key []byte
	// DeletePartition deletes everything in the partition written at or
	// before DeleteTS.
	DeletePartition bool
	DeleteTS        int64
	RangeDeletes    []RangeDelete
	Rows            []RowWrite
	// ServerTS marks a mutation whose client sent no timestamp: every TS in
	// it is replaced by the server's clock when it applies (stampLocked).
	// Not logged: the log holds the stamped values.
	ServerTS bool
}

// Bound is one end of a clustering range: a prefix of clustering values; an
// empty prefix is unbounded.
type Bound struct {
	Prefix    [][]byte
	Inclusive bool
}

// RangeDelete deletes rows whose clustering key lies between Start and End.
type RangeDelete struct {
	Start, End Bound
	TS         int64
}

// RowWrite changes one row (or the partition's static row).
type RowWrite struct {
	// Clustering holds the clustering values; empty for the static row and
	// for tables without clustering columns.
	Clustering [][]byte
	Static     bool
	// Delete removes the row's contents written at or before TS.
	Delete bool
	// Marker writes the row marker (INSERT), so the row exists even when all
	// its regular columns are null.
	Marker bool
	TS     int64
	// TTL in seconds (0: none) and the resulting expiry in Unix nanoseconds.
	TTL       int32
	ExpiresAt int64
	Cells     []CellWrite
}

// CellOp says how a CellWrite changes its column.
type CellOp uint8

// Cell operations.
const (
	// CellSet writes the whole value of a single-cell column; a nil Value
	// deletes it.
	CellSet CellOp = iota + 1
	// CellClear deletes every element of a multi-cell column written before
	// the write's TS (collection overwrite and DELETE of a collection).
	CellClear
	// CellElement sets element Key of a multi-cell column to Value (nil
	// deletes it). Keys: set element, map key, list timeuuid, UDT field index.
	CellElement
	// CellListIndex sets (Value non-nil) or deletes the list element at the
	// int32 position in Key, resolved against the list as it is when applied.
	CellListIndex
	// CellListRemove deletes every list element equal to Value.
	CellListRemove
)

// CellWrite is one column change of a RowWrite.
type CellWrite struct {
	Column string
	Op     CellOp
	Key    []byte
	Value  []byte
}
