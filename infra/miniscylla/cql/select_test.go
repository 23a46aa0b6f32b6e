package cql

import "testing"

// The exact statements gocql and scylla-cdc-go send (schema discovery,
// CDC generation and stream reads, CDC log polls), with gocql's
// ` USING TIMEOUT <n>ms` suffix where it adds it.
func TestParseDriverSelects(t *testing.T) {
	const timeout = " USING TIMEOUT 60000ms"
	ksEq := eq("keyspace_name", mk(0))
	tests := []parseCase{
		{
			name: "gocql system.local",
			query: "SELECT broadcast_address, cluster_name, data_center, host_id, listen_address, partitioner, " +
				"rack, release_version, rpc_address, schema_version, tokens FROM system.local WHERE key='local'" + timeout,
			want: &SelectStatement{
				Selectors: cols("broadcast_address", "cluster_name", "data_center", "host_id", "listen_address",
					"partitioner", "rack", "release_version", "rpc_address", "schema_version", "tokens"),
				Table:   tbl("system", "local"),
				Where:   []Relation{eq("key", str("local"))},
				Timeout: dur("60000ms"),
			},
		},
		{
			name:  "gocql system.local connect timeout",
			query: "SELECT schema_version FROM system.local WHERE key='local' USING TIMEOUT 600ms",
			want: &SelectStatement{Selectors: cols("schema_version"), Table: tbl("system", "local"),
				Where: []Relation{eq("key", str("local"))}, Timeout: dur("600ms")},
		},
		{
			name:  "gocql peers after bare table name",
			query: "SELECT peer, data_center, host_id, rack, release_version, rpc_address, schema_version, tokens FROM system.peers" + timeout,
			want: &SelectStatement{
				Selectors: cols("peer", "data_center", "host_id", "rack", "release_version", "rpc_address", "schema_version", "tokens"),
				Table:     tbl("system", "peers"), Timeout: dur("60000ms"),
			},
		},
		{
			name:  "gocql schema agreement peers",
			query: "SELECT host_id, data_center, rack, schema_version, rpc_address FROM system.peers",
			want: &SelectStatement{Selectors: cols("host_id", "data_center", "rack", "schema_version", "rpc_address"),
				Table: tbl("system", "peers")},
		},
		{
			name:  "gocql keyspaces",
			query: "SELECT * FROM system_schema.keyspaces" + timeout,
			want:  &SelectStatement{Table: tbl("system_schema", "keyspaces"), Timeout: dur("60000ms")},
		},
		{
			name:  "gocql keyspace metadata",
			query: "SELECT durable_writes, replication FROM system_schema.keyspaces WHERE keyspace_name = ?" + timeout,
			want: &SelectStatement{Selectors: cols("durable_writes", "replication"), Table: tbl("system_schema", "keyspaces"),
				Where: []Relation{ksEq}, Timeout: dur("60000ms")},
			markers: 1,
		},
		{
			name:  "gocql columns of one table",
			query: "SELECT table_name, column_name, clustering_order, type, kind, position FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?" + timeout,
			want: &SelectStatement{
				Selectors: cols("table_name", "column_name", "clustering_order", "type", "kind", "position"),
				Table:     tbl("system_schema", "columns"),
				Where:     []Relation{ksEq, eq("table_name", mk(1))}, Timeout: dur("60000ms"),
			},
			markers: 2,
		},
		{
			name:  "gocql views with ALLOW FILTERING",
			query: "SELECT * FROM system_schema.views WHERE keyspace_name = ? AND base_table_name = ? ALLOW FILTERING" + timeout,
			want: &SelectStatement{Table: tbl("system_schema", "views"),
				Where:          []Relation{ksEq, eq("base_table_name", mk(1))},
				AllowFiltering: true, Timeout: dur("60000ms")},
			markers: 2,
		},
		{
			name:  "cdc peers count",
			query: "SELECT COUNT(*) FROM system.peers",
			want:  &SelectStatement{Selectors: []Selector{{Expr: &SelectCount{}}}, Table: tbl("system", "peers")},
		},
		{
			name:  "cdc generation timestamps",
			query: "SELECT time FROM system_distributed.cdc_generation_timestamps WHERE key = 'timestamps'",
			want: &SelectStatement{Selectors: cols("time"), Table: tbl("system_distributed", "cdc_generation_timestamps"),
				Where: []Relation{eq("key", str("timestamps"))}},
		},
		{
			name:  "cdc streams",
			query: "SELECT streams FROM system_distributed.cdc_streams_descriptions_v2 WHERE time = ?",
			want: &SelectStatement{Selectors: cols("streams"), Table: tbl("system_distributed", "cdc_streams_descriptions_v2"),
				Where: []Relation{eq("time", mk(0))}},
			markers: 1,
		},
		{
			name:  "cdc tablets streams",
			query: "SELECT stream_id FROM system.cdc_streams WHERE keyspace_name = ? AND table_name = ? AND timestamp = ? AND stream_state = ?",
			want: &SelectStatement{Selectors: cols("stream_id"), Table: tbl("system", "cdc_streams"),
				Where: []Relation{ksEq, eq("table_name", mk(1)), eq("timestamp", mk(2)), eq("stream_state", mk(3))}},
			markers: 4,
		},
		{
			name:  "cdc extensions",
			query: "SELECT extensions FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
			want: &SelectStatement{Selectors: cols("extensions"), Table: tbl("system_schema", "tables"),
				Where: []Relation{ksEq, eq("table_name", mk(1))}},
			markers: 2,
		},
		{
			name:  "cdc log read, several streams",
			query: `SELECT * FROM ks.t_scylla_cdc_log WHERE "cdc$stream_id" IN (?, ?, ?) AND "cdc$time" > ? AND "cdc$time" <= ? BYPASS CACHE`,
			want: &SelectStatement{Table: tbl("ks", "t_scylla_cdc_log"), Where: []Relation{
				{Columns: []string{"cdc$stream_id"}, Op: OpIn, Values: []Term{mk(0), mk(1), mk(2)}},
				rel("cdc$time", OpGt, mk(3)), rel("cdc$time", OpLte, mk(4)),
			}, BypassCache: true},
			markers: 5,
		},
		{
			name:  "cdc log read with writetime of tuple columns",
			query: `SELECT writetime(tup), "cdc$stream_id", tup FROM ks.t_scylla_cdc_log WHERE "cdc$stream_id" = ? AND "cdc$time" > ? AND "cdc$time" <= ? BYPASS CACHE`,
			want: &SelectStatement{
				Selectors: []Selector{{Expr: &SelectWriteTime{Column: "tup"}}, {Expr: &SelectColumn{Name: "cdc$stream_id"}}, {Expr: &SelectColumn{Name: "tup"}}},
				Table:     tbl("ks", "t_scylla_cdc_log"),
				Where: []Relation{eq("cdc$stream_id", mk(0)),
					rel("cdc$time", OpGt, mk(1)), rel("cdc$time", OpLte, mk(2))},
				BypassCache: true,
			},
			markers: 3,
		},
		{
			name:  "cdc first rows per partition",
			query: `SELECT "cdc$stream_id", "cdc$time" FROM ks.t_scylla_cdc_log WHERE "cdc$stream_id" = ? AND "cdc$time" > ? AND "cdc$time" <= ? PER PARTITION LIMIT 1 BYPASS CACHE`,
			want: &SelectStatement{
				Selectors: cols("cdc$stream_id", "cdc$time"), Table: tbl("ks", "t_scylla_cdc_log"),
				Where: []Relation{eq("cdc$stream_id", mk(0)),
					rel("cdc$time", OpGt, mk(1)), rel("cdc$time", OpLte, mk(2))},
				PerPartitionLimit: num("1"), BypassCache: true,
			},
			markers: 3,
		},
		{
			name:  "cdc progress",
			query: "SELECT last_timestamp FROM cdc_offsets WHERE generation = ? AND application_name = ? AND table_name = ? AND stream_id = ?",
			want: &SelectStatement{Selectors: cols("last_timestamp"), Table: tbl("", "cdc_offsets"),
				Where: []Relation{eq("generation", mk(0)), eq("application_name", mk(1)), eq("table_name", mk(2)), eq("stream_id", mk(3))}},
			markers: 4,
		},
		{
			name:  "gocql client routes IN ?",
			query: "select connection_id, host_id, address, port, tls_port from system.client_routes where connection_id in ? and host_id in ?",
			want: &SelectStatement{Selectors: cols("connection_id", "host_id", "address", "port", "tls_port"),
				Table: tbl("system", "client_routes"),
				Where: []Relation{rel("connection_id", OpIn, mk(0)), rel("host_id", OpIn, mk(1))}},
			markers: 2,
		},
	}
	runParseCases(t, tests)
}

func TestParseSelectClauses(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  *SelectStatement
	}{
		{
			name:  "all trailing clauses in order",
			query: "SELECT DISTINCT a FROM t WHERE a > 1 GROUP BY a, b ORDER BY b DESC, c ASC, d PER PARTITION LIMIT ? LIMIT 10 ALLOW FILTERING BYPASS CACHE USING TIMEOUT ?;",
			want: &SelectStatement{Distinct: true, Selectors: cols("a"), Table: tbl("", "t"),
				Where:             []Relation{rel("a", OpGt, num("1"))},
				GroupBy:           []string{"a", "b"},
				OrderBy:           []Ordering{{Column: "b", Descending: true}, {Column: "c"}, {Column: "d"}},
				PerPartitionLimit: mk(0), Limit: num("10"), AllowFiltering: true, BypassCache: true, Timeout: mk(1)},
		},
		{
			name:  "selectors: alias, count(1), ttl, functions, cast, udt field",
			query: "select a AS x, count(1), TTL(b), toTimestamp(c), system.toUnixTimestamp(d), CAST(e AS text), u.f, token(k) FROM ks.t",
			want: &SelectStatement{Selectors: []Selector{
				{Expr: &SelectColumn{Name: "a"}, Alias: "x"},
				{Expr: &SelectCount{}},
				{Expr: &SelectTTL{Column: "b"}},
				{Expr: &SelectFunction{Name: "totimestamp", Args: []Selectable{&SelectColumn{Name: "c"}}}},
				{Expr: &SelectFunction{Keyspace: "system", Name: "tounixtimestamp", Args: []Selectable{&SelectColumn{Name: "d"}}}},
				{Expr: &SelectCast{Expr: &SelectColumn{Name: "e"}, Type: native(TypeText)}},
				{Expr: &SelectColumn{Name: "u", Field: "f"}},
				{Expr: &SelectFunction{Name: "token", Args: []Selectable{&SelectColumn{Name: "k"}}}},
			}, Table: tbl("ks", "t")},
		},
		{
			name:  "count of a column, function of a constant, nested calls",
			query: "SELECT count(a), blobAsText(0xCAFE), dateOf(now()), unixTimestampOf(\"Quoted\") FROM t",
			want: &SelectStatement{Selectors: []Selector{
				{Expr: &SelectFunction{Name: "count", Args: []Selectable{&SelectColumn{Name: "a"}}}},
				{Expr: &SelectFunction{Name: "blobastext", Args: []Selectable{&SelectTerm{Term: &Literal{Kind: LitBlob, Text: "CAFE"}}}}},
				{Expr: &SelectFunction{Name: "dateof", Args: []Selectable{&SelectFunction{Name: "now"}}}},
				{Expr: &SelectFunction{Name: "unixtimestampof", Args: []Selectable{&SelectColumn{Name: "Quoted"}}}},
			}, Table: tbl("", "t")},
		},
		{
			name:  "SELECT JSON DISTINCT, and json as a column of SELECT JSON",
			query: "SELECT JSON DISTINCT k, json FROM t",
			want:  &SelectStatement{JSON: true, Distinct: true, Selectors: cols("k", "json"), Table: tbl("", "t")},
		},
		{
			name:  "unreserved keywords as column names, json and distinct as columns",
			query: "SELECT json, distinct, key, type, time, timestamp, ttl, count, writetime, values, value, list, map, status, kind, position, streams, expired, view, is FROM t",
			want: &SelectStatement{Selectors: cols("json", "distinct", "key", "type", "time", "timestamp", "ttl", "count",
				"writetime", "values", "value", "list", "map", "status", "kind", "position", "streams", "expired", "view", "is"), Table: tbl("", "t")},
		},
		{
			name:  "token, tuple, contains and IN relations",
			query: "SELECT * FROM t WHERE token(a, b) > token(?, ?) AND (c, d) >= (1, 'x') AND (c, d) IN ((1, 'a'), (2, 'b')) AND (c, d) IN ? AND m CONTAINS KEY 'k' AND s CONTAINS 3 AND x != 4 AND y < 5 AND z IN () AND n LIKE 'a%'",
			want: &SelectStatement{Table: tbl("", "t"), Where: []Relation{
				{Columns: []string{"a", "b"}, Token: true, Op: OpGt, Value: fn("token", mk(0), mk(1))},
				{Columns: []string{"c", "d"}, Tuple: true, Op: OpGte, Value: &TupleLiteral{Elems: []Term{num("1"), str("x")}}},
				{Columns: []string{"c", "d"}, Tuple: true, Op: OpIn, Values: []Term{
					&TupleLiteral{Elems: []Term{num("1"), str("a")}}, &TupleLiteral{Elems: []Term{num("2"), str("b")}}}},
				{Columns: []string{"c", "d"}, Tuple: true, Op: OpIn, Value: mk(2)},
				rel("m", OpContainsKey, str("k")),
				rel("s", OpContains, num("3")),
				rel("x", OpNeq, num("4")),
				rel("y", OpLt, num("5")),
				{Columns: []string{"z"}, Op: OpIn},
				rel("n", OpLike, str("a%")),
			}},
		},
		{
			name:  "timeuuid functions and named markers",
			query: "SELECT * FROM t WHERE id = :id AND ts > minTimeuuid(:from) AND ts < maxTimeuuid(?) AND ts <= now()",
			want: &SelectStatement{Table: tbl("", "t"), Where: []Relation{
				eq("id", named(0, "id")),
				rel("ts", OpGt, fn("mintimeuuid", named(1, "from"))),
				rel("ts", OpLt, fn("maxtimeuuid", mk(2))),
				rel("ts", OpLte, fn("now")),
			}},
		},
		{
			name:  "case, comments and quoted identifiers",
			query: "-- leading\nSeLeCt \"MixedCase\", \"with \"\"quote\"\"\" /* block\ncomment */ FROM \"KS\".\"Tbl\" // trailing\n",
			want:  &SelectStatement{Selectors: cols("MixedCase", `with "quote"`), Table: tbl("KS", "Tbl")},
		},
		{
			name:  "ISO duration timeout",
			query: "SELECT * FROM t USING TIMEOUT PT1H30M",
			want:  &SelectStatement{Table: tbl("", "t"), Timeout: dur("PT1H30M")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertTree(t, mustParse(t, tt.query).Statement, tt.want)
		})
	}
}
