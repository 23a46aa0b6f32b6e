package cql

import "testing"

func TestParseDDL(t *testing.T) {
	replication := &MapLiteral{Entries: []MapEntry{
		{Key: str("class"), Value: str("NetworkTopologyStrategy")},
		{Key: str("replication_factor"), Value: str("1")},
	}}
	tests := []parseCase{
		{
			name:  "create keyspace as scylla-cdc-go's tests do",
			query: "CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': '1'} AND tablets={'enabled': false}",
			want: &CreateKeyspaceStatement{Keyspace: "ks", Options: []Option{
				{Name: "replication", Value: replication},
				{Name: "tablets", Value: &MapLiteral{Entries: []MapEntry{{Key: str("enabled"), Value: boolean("false")}}}},
			}},
		},
		{
			name:  "create keyspace if not exists with durable_writes",
			query: "CREATE KEYSPACE IF NOT EXISTS orders_ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} AND durable_writes = true;",
			want: &CreateKeyspaceStatement{Keyspace: "orders_ks", IfNotExists: true, Options: []Option{
				{Name: "replication", Value: &MapLiteral{Entries: []MapEntry{
					{Key: str("class"), Value: str("SimpleStrategy")}, {Key: str("replication_factor"), Value: num("1")}}}},
				{Name: "durable_writes", Value: boolean("true")},
			}},
		},
		{
			name:  "alter keyspace",
			query: "ALTER KEYSPACE ks WITH durable_writes = false",
			want:  &AlterKeyspaceStatement{Keyspace: "ks", Options: []Option{{Name: "durable_writes", Value: boolean("false")}}},
		},
		{
			name:  "drop keyspace",
			query: "DROP KEYSPACE IF EXISTS ks",
			want:  &DropKeyspaceStatement{Keyspace: "ks", IfExists: true},
		},
		{
			name: "cdc progress table: composite partition key",
			query: "CREATE TABLE IF NOT EXISTS ks.cdc_offsets (generation timestamp, application_name text, table_name text, stream_id blob, last_timestamp timeuuid, current_generation timestamp, " +
				"PRIMARY KEY ((generation, application_name, table_name, stream_id)))",
			want: &CreateTableStatement{Table: tbl("ks", "cdc_offsets"), IfNotExists: true,
				Columns: []ColumnDef{
					{Name: "generation", Type: native(TypeTimestamp)}, {Name: "application_name", Type: native(TypeText)},
					{Name: "table_name", Type: native(TypeText)}, {Name: "stream_id", Type: native(TypeBlob)},
					{Name: "last_timestamp", Type: native(TypeTimeuuid)}, {Name: "current_generation", Type: native(TypeTimestamp)},
				},
				PartitionKey: []string{"generation", "application_name", "table_name", "stream_id"}},
		},
		{
			name: "outbox table with cdc, clustering order and options",
			query: `CREATE TABLE orders_ks.outbox_messages (
				aggregate_id uuid, event_id timeuuid, aggregate_type text, aggregate_version int,
				event_type text, payload blob, headers frozen<map<text, text>>, created_at timestamp,
				PRIMARY KEY ((aggregate_id), event_id)
			) WITH CLUSTERING ORDER BY (event_id ASC) AND cdc = {'enabled': true, 'ttl': 86400}
			  AND default_time_to_live = 604800 AND comment = 'outbox' AND caching = keys_only
			  AND bloom_filter_fp_chance = 0.01 AND compaction = {'class': 'SizeTieredCompactionStrategy'}`,
			want: &CreateTableStatement{Table: tbl("orders_ks", "outbox_messages"),
				Columns: []ColumnDef{
					{Name: "aggregate_id", Type: native(TypeUUID)}, {Name: "event_id", Type: native(TypeTimeuuid)},
					{Name: "aggregate_type", Type: native(TypeText)}, {Name: "aggregate_version", Type: native(TypeInt)},
					{Name: "event_type", Type: native(TypeText)}, {Name: "payload", Type: native(TypeBlob)},
					{Name: "headers", Type: frozen(coll(TypeMap, native(TypeText), native(TypeText)))},
					{Name: "created_at", Type: native(TypeTimestamp)},
				},
				PartitionKey: []string{"aggregate_id"}, ClusteringKey: []string{"event_id"},
				ClusteringOrder: []Ordering{{Column: "event_id"}},
				Options: []Option{
					{Name: "cdc", Value: &MapLiteral{Entries: []MapEntry{{Key: str("enabled"), Value: boolean("true")}, {Key: str("ttl"), Value: num("86400")}}}},
					{Name: "default_time_to_live", Value: num("604800")},
					{Name: "comment", Value: str("outbox")},
					{Name: "caching", Value: str("keys_only")},
					{Name: "bloom_filter_fp_chance", Value: flt("0.01")},
					{Name: "compaction", Value: &MapLiteral{Entries: []MapEntry{{Key: str("class"), Value: str("SizeTieredCompactionStrategy")}}}},
				}},
		},
		{
			name:  "inline primary key, static column, every native type, varchar, udt, trailing comma",
			query: "CREATE TABLE t (id uuid PRIMARY KEY, s text STATIC, a ascii, b bigint, c counter, d date, e decimal, f double, g duration, h float, i inet, j smallint, k time, l tinyint, m varint, n varchar, o boolean, u ks.address, v tuple<int, text>, w list<frozen<set<int>>>,)",
			want: &CreateTableStatement{Table: tbl("", "t"),
				Columns: []ColumnDef{
					{Name: "id", Type: native(TypeUUID)}, {Name: "s", Type: native(TypeText), Static: true},
					{Name: "a", Type: native(TypeAscii)}, {Name: "b", Type: native(TypeBigint)}, {Name: "c", Type: native(TypeCounter)},
					{Name: "d", Type: native(TypeDate)}, {Name: "e", Type: native(TypeDecimal)}, {Name: "f", Type: native(TypeDouble)},
					{Name: "g", Type: native(TypeDuration)}, {Name: "h", Type: native(TypeFloat)}, {Name: "i", Type: native(TypeInet)},
					{Name: "j", Type: native(TypeSmallint)}, {Name: "k", Type: native(TypeTime)}, {Name: "l", Type: native(TypeTinyint)},
					{Name: "m", Type: native(TypeVarint)}, {Name: "n", Type: native(TypeText)}, {Name: "o", Type: native(TypeBoolean)},
					{Name: "u", Type: &Type{Kind: TypeUDT, Keyspace: "ks", Name: "address"}},
					{Name: "v", Type: coll(TypeTuple, native(TypeInt), native(TypeText))},
					{Name: "w", Type: coll(TypeList, frozen(coll(TypeSet, native(TypeInt))))},
				},
				PartitionKey: []string{"id"}},
		},
		{
			name:  "compound key with compact storage and several clustering orders",
			query: "CREATE COLUMNFAMILY t (a int, b int, c int, v int, PRIMARY KEY (a, b, c)) WITH COMPACT STORAGE AND CLUSTERING ORDER BY (b DESC, c ASC)",
			want: &CreateTableStatement{Table: tbl("", "t"),
				Columns: []ColumnDef{{Name: "a", Type: native(TypeInt)}, {Name: "b", Type: native(TypeInt)},
					{Name: "c", Type: native(TypeInt)}, {Name: "v", Type: native(TypeInt)}},
				PartitionKey: []string{"a"}, ClusteringKey: []string{"b", "c"},
				ClusteringOrder: []Ordering{{Column: "b", Descending: true}, {Column: "c"}}, CompactStorage: true},
		},
		{
			name:  "alter table add one",
			query: "ALTER TABLE ks.t ADD note text",
			want:  &AlterTableStatement{Table: tbl("ks", "t"), Kind: AlterTableAdd, Add: []ColumnDef{{Name: "note", Type: native(TypeText)}}},
		},
		{
			name:  "alter table add several",
			query: "ALTER TABLE t ADD (a int, b set<text> static)",
			want: &AlterTableStatement{Table: tbl("", "t"), Kind: AlterTableAdd, Add: []ColumnDef{
				{Name: "a", Type: native(TypeInt)}, {Name: "b", Type: coll(TypeSet, native(TypeText)), Static: true}}},
		},
		{
			name:  "alter table drop",
			query: "ALTER TABLE t DROP (a, b)",
			want:  &AlterTableStatement{Table: tbl("", "t"), Kind: AlterTableDrop, Drop: []string{"a", "b"}},
		},
		{
			name:  "alter table drop one",
			query: "ALTER TABLE t DROP a",
			want:  &AlterTableStatement{Table: tbl("", "t"), Kind: AlterTableDrop, Drop: []string{"a"}},
		},
		{
			name:  "alter table enables cdc",
			query: "ALTER TABLE t WITH cdc = {'enabled': 'true', 'preimage': 'full'}",
			want: &AlterTableStatement{Table: tbl("", "t"), Kind: AlterTableWith, Options: []Option{{Name: "cdc",
				Value: &MapLiteral{Entries: []MapEntry{{Key: str("enabled"), Value: str("true")}, {Key: str("preimage"), Value: str("full")}}}}}},
		},
		{
			name:  "drop table",
			query: "DROP TABLE IF EXISTS ks.t",
			want:  &DropTableStatement{Table: tbl("ks", "t"), IfExists: true},
		},
		{
			name:  "create type",
			query: "CREATE TYPE IF NOT EXISTS ks.address (street text, \"Zip\" int, tags frozen<list<text>>)",
			want: &CreateTypeStatement{Type: tbl("ks", "address"), IfNotExists: true, Fields: []ColumnDef{
				{Name: "street", Type: native(TypeText)}, {Name: "Zip", Type: native(TypeInt)},
				{Name: "tags", Type: frozen(coll(TypeList, native(TypeText)))}}},
		},
		{
			name:  "drop type",
			query: "DROP TYPE address",
			want:  &DropTypeStatement{Type: tbl("", "address")},
		},
	}
	runParseCases(t, tests)
}

func TestParseType(t *testing.T) {
	tests := []struct {
		in   string
		want *Type
		str  string
	}{
		{"text", native(TypeText), "text"},
		{"VARCHAR", native(TypeText), "text"},
		{"frozen<map<text, text>>", frozen(coll(TypeMap, native(TypeText), native(TypeText))), "frozen<map<text, text>>"},
		{"frozen<map<timeuuid,int>>", frozen(coll(TypeMap, native(TypeTimeuuid), native(TypeInt))), "frozen<map<timeuuid, int>>"},
		{"set<frozen<tuple<int, text, blob>>>", coll(TypeSet, frozen(coll(TypeTuple, native(TypeInt), native(TypeText), native(TypeBlob)))),
			"set<frozen<tuple<int, text, blob>>>"},
		{"list<smallint>", coll(TypeList, native(TypeSmallint)), "list<smallint>"},
		{"frozen<ks.\"Addr\">", &Type{Kind: TypeUDT, Keyspace: "ks", Name: "Addr", Frozen: true}, `frozen<ks."Addr">`},
		{"address", &Type{Kind: TypeUDT, Name: "address"}, "address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseType(tt.in)
			if err != nil {
				t.Fatalf("ParseType: %v", err)
			}
			assertTree(t, got, tt.want)
			if got.String() != tt.str {
				t.Errorf("String() = %q, want %q", got.String(), tt.str)
			}
			back, err := ParseType(got.String())
			if err != nil {
				t.Fatalf("ParseType(String()): %v", err)
			}
			assertTree(t, back, got)
		})
	}
}

func TestParseTypeErrors(t *testing.T) {
	for _, in := range []string{"", "map<text>", "list<int, int>", "frozen<", "int>", "tuple<>", "select", "set<int"} {
		t.Run(in, func(t *testing.T) {
			if _, err := ParseType(in); err == nil {
				t.Fatalf("ParseType(%q) succeeded", in)
			} else if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("ParseType(%q) error %T %v, want *SyntaxError", in, err, err)
			}
		})
	}
}

func TestQuoteIdent(t *testing.T) {
	tests := map[string]string{
		"abc":      "abc",
		"cdc$time": `"cdc$time"`,
		"Mixed":    `"Mixed"`,
		"from":     `"from"`,
		"key":      "key",
		`a"b`:      `"a""b"`,
		"":         `""`,
		"1a":       `"1a"`,
	}
	for in, want := range tests {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %q, want %q", in, got, want)
		}
	}
}
