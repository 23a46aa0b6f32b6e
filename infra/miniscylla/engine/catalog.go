package engine

import (
	"bytes"
	"cmp"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// ColumnKind is a column's role in its table.
type ColumnKind uint8

// Column kinds.
const (
	PartitionKey ColumnKind = iota + 1
	ClusteringKey
	StaticColumn
	RegularColumn
)

// String is the kind as system_schema.columns spells it.
func (k ColumnKind) String() string {
	switch k {
	case PartitionKey:
		return "partition_key"
	case ClusteringKey:
		return "clustering"
	case StaticColumn:
		return "static"
	}
	return "regular"
}

// Column is one column of a table.
type Column struct {
	Name string
	Type *Type
	Kind ColumnKind
	// Position within the partition or clustering key; -1 otherwise.
	Position int
	Desc     bool
}

// TableOptions are the WITH options miniscylla honours or reports back.
type TableOptions struct {
	DefaultTTL int32
	Comment    string
	// CDC is the cdc = {...} map as given (keys lower-cased); nil when absent.
	CDC map[string]string
	// Tablets is the tablets = {...} option (tablet count hints) as given;
	// nil when absent.
	Tablets map[string]string
	// Partitioner overrides the default Murmur3 partitioner in
	// system_schema.scylla_tables (CDC log tables use CDCPartitioner).
	Partitioner string
	// Other keeps the remaining options as text, for reporting.
	Other map[string]string
}

// extensions is system_schema.tables.extensions (see cdcExtensions).
func (t *Table) extensions() map[string][]byte { return cdcExtensions(t) }

// Table is an immutable table schema; DDL replaces it with a new value.
type Table struct {
	Keyspace     string
	Name         string
	ID           uuid.UUID
	Columns      []*Column // partition key, clustering, then the rest by name
	PartitionKey []*Column
	Clustering   []*Column
	Options      TableOptions
	byName       map[string]*Column
	// rows generates a virtual (system) table's content; nil for stored tables.
	rows func(e *Engine) []map[string][]byte
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column { return t.byName[name] }

// newTable builds a table from its key columns and the other columns,
// assigning positions and the canonical column order.
func newTable(ks, name string, pk, ck, others []*Column, opts TableOptions) *Table {
	t := &Table{Keyspace: ks, Name: name, ID: uuid.New(), Options: opts}
	t.setColumns(pk, ck, others)
	return t
}

func (t *Table) setColumns(pk, ck, others []*Column) {
	for i, c := range pk {
		c.Kind, c.Position = PartitionKey, i
	}
	for i, c := range ck {
		c.Kind, c.Position = ClusteringKey, i
	}
	rest := slices.Clone(others)
	slices.SortFunc(rest, func(a, b *Column) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range rest {
		c.Position = -1
		if c.Kind != StaticColumn {
			c.Kind = RegularColumn
		}
	}
	t.PartitionKey, t.Clustering = pk, ck
	t.Columns = slices.Concat(pk, ck, rest)
	t.byName = make(map[string]*Column, len(t.Columns))
	for _, c := range t.Columns {
		t.byName[c.Name] = c
	}
}

// withColumns returns a copy of t with other columns replaced (ALTER TABLE).
// The columns are copied too: running statements still read the old ones.
func (t *Table) withColumns(others []*Column) *Table {
	c := *t
	c.setColumns(cloneColumns(t.PartitionKey), cloneColumns(t.Clustering), cloneColumns(others))
	return &c
}

func cloneColumns(cs []*Column) []*Column {
	out := make([]*Column, len(cs))
	for i, col := range cs {
		cp := *col
		out[i] = &cp
	}
	return out
}

// nonKeyColumns returns the static and regular columns.
func (t *Table) nonKeyColumns() []*Column {
	return t.Columns[len(t.PartitionKey)+len(t.Clustering):]
}

// clusteringOrder compares clustering keys (and prefixes of them) by the
// table's clustering column types.
type clusteringOrder struct {
	types []*Type
	desc  []bool
}

func (t *Table) clusteringCompare() *clusteringOrder {
	o := &clusteringOrder{}
	for _, c := range t.Clustering {
		o.types = append(o.types, c.Type)
		o.desc = append(o.desc, c.Desc)
	}
	return o
}

// compare orders rows as stored: by value, reversed for DESC columns; a
// shorter prefix sorts first.
func (o *clusteringOrder) compare(a, b [][]byte) int { return o.cmp(a, b, true) }

// compareValues orders by plain values, ignoring DESC, as CQL range
// restrictions (c >= x) are written.
func (o *clusteringOrder) compareValues(a, b [][]byte) int { return o.cmp(a, b, false) }

func (o *clusteringOrder) cmp(a, b [][]byte, withDesc bool) int {
	for i := 0; i < len(a) && i < len(b) && i < len(o.types); i++ {
		c := compareValues(o.types[i], a[i], b[i])
		if withDesc && o.desc[i] {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// partitionKeyBytes serializes partition key values as the routing key:
// the value itself for one column, else <len16><bytes><0x00> per component.
func partitionKeyBytes(vals [][]byte) []byte {
	if len(vals) == 1 {
		return vals[0]
	}
	var b bytes.Buffer
	for _, v := range vals {
		b.WriteByte(byte(len(v) >> 8))
		b.WriteByte(byte(len(v)))
		b.Write(v)
		b.WriteByte(0)
	}
	return b.Bytes()
}

// splitPartitionKey reverses partitionKeyBytes for n components.
func splitPartitionKey(key []byte, n int) ([][]byte, bool) {
	if n == 1 {
		return [][]byte{key}, true
	}
	out := make([][]byte, 0, n)
	for len(key) > 0 {
		if len(key) < 3 {
			return nil, false
		}
		l := int(key[0])<<8 | int(key[1])
		if len(key) < 2+l+1 {
			return nil, false
		}
		out = append(out, key[2:2+l])
		key = key[3+l:]
	}
	return out, len(out) == n
}

// Keyspace is a keyspace and the tables and types it holds.
type Keyspace struct {
	Name          string
	Replication   map[string]string
	DurableWrites bool
	// Tablets is the tablets = {...} option as given; nil when absent.
	Tablets map[string]string
	Tables  map[string]*Table
	Types   map[string]*Type
	// typeOrder keeps types in creation order for system_schema.types.
	typeOrder []string
	system    bool
}

func newKeyspace(name string, repl map[string]string) *Keyspace {
	return &Keyspace{
		Name: name, Replication: repl, DurableWrites: true,
		Tables: map[string]*Table{}, Types: map[string]*Type{},
	}
}
