package cql

import (
	"testing"
)

func TestParseModifications(t *testing.T) {
	tests := []parseCase{
		{
			name:  "cdc progress insert with TTL",
			query: "INSERT INTO ks.cdc_offsets (generation, application_name, table_name, stream_id, last_timestamp) VALUES (?, ?, ?, ?, ?) USING TTL ?",
			want: &InsertStatement{Table: tbl("ks", "cdc_offsets"),
				Columns: []string{"generation", "application_name", "table_name", "stream_id", "last_timestamp"},
				Values:  []Term{mk(0), mk(1), mk(2), mk(3), mk(4)}, Using: Using{TTL: mk(5)}},
			markers: 6,
		},
		{
			name:  "insert literals, IF NOT EXISTS then USING",
			query: "INSERT INTO t (a, b, c, d, e, f, g, h) VALUES (-1, 2.5e-3, 'it''s', $$raw 'x'$$, true, NULL, 0x, 62c36092-82a1-3a00-93d1-46196ee77204) IF NOT EXISTS USING TTL 86400 AND TIMESTAMP 1700000000000000 AND TIMEOUT 1m0s",
			want: &InsertStatement{Table: tbl("", "t"),
				Columns: []string{"a", "b", "c", "d", "e", "f", "g", "h"},
				Values: []Term{num("-1"), flt("2.5e-3"), str("it's"), str("raw 'x'"), boolean("true"), null(),
					&Literal{Kind: LitBlob}, &Literal{Kind: LitUUID, Text: "62c36092-82a1-3a00-93d1-46196ee77204"}},
				IfNotExists: true,
				Using:       Using{TTL: num("86400"), Timestamp: num("1700000000000000"), Timeout: dur("1m0s")}},
		},
		{
			name:  "insert JSON literal with DEFAULT UNSET, IF NOT EXISTS and TTL",
			query: "INSERT INTO t JSON '{\"k\": 1}' DEFAULT UNSET IF NOT EXISTS USING TTL 5",
			want: &InsertStatement{Table: tbl("", "t"), JSON: str(`{"k": 1}`), DefaultUnset: true,
				IfNotExists: true, Using: Using{TTL: num("5")}},
		},
		{
			name:    "insert JSON marker, DEFAULT NULL",
			query:   "INSERT INTO ks.t JSON ? DEFAULT NULL",
			want:    &InsertStatement{Table: tbl("ks", "t"), JSON: mk(0)},
			markers: 1,
		},
		{
			name:  "insert USING before IF NOT EXISTS, gocqlx style",
			query: "INSERT INTO t (id,v) VALUES (?,?) USING TIMESTAMP ? IF NOT EXISTS ",
			want: &InsertStatement{Table: tbl("", "t"), Columns: []string{"id", "v"}, Values: []Term{mk(0), mk(1)},
				IfNotExists: true, Using: Using{Timestamp: mk(2)}},
			markers: 3,
		},
		{
			name:  "insert collections, tuples, UDTs, casts, functions",
			query: "INSERT INTO t (l, s, m, e, tu, u, c, f, n, i) VALUES ([1, 2], {'a', 'b'}, {'k': 1, 'j': ?}, {}, (1, 'x'), {street: 'Main', \"No\": 3}, (int) ?, toTimestamp(now()), - NaN, -Infinity)",
			want: &InsertStatement{Table: tbl("", "t"),
				Columns: []string{"l", "s", "m", "e", "tu", "u", "c", "f", "n", "i"},
				Values: []Term{
					&ListLiteral{Elems: []Term{num("1"), num("2")}},
					&SetLiteral{Elems: []Term{str("a"), str("b")}},
					&MapLiteral{Entries: []MapEntry{{Key: str("k"), Value: num("1")}, {Key: str("j"), Value: mk(0)}}},
					&MapLiteral{},
					&TupleLiteral{Elems: []Term{num("1"), str("x")}},
					&UDTLiteral{Fields: []UDTField{{Name: "street", Value: str("Main")}, {Name: "No", Value: num("3")}}},
					&TypeCast{Type: native(TypeInt), Term: mk(1)},
					fn("totimestamp", fn("now")),
					flt("NaN"), flt("-Infinity"),
				}},
			markers: 2,
		},
		{
			name:  "update every assignment form with LWT conditions",
			query: "UPDATE ks.t USING TTL 10 AND TIMESTAMP ? SET a = ?, c = c + 1, l = [?] + l, s = s - {'x'}, m[?] = 'v', l[0] = null, u.street = ?, n += 2, o -= ? WHERE id = ? AND ck IN (1, 2) IF a = 3 AND m['k'] != ? AND u.f IN (1, ?) AND b > 2",
			want: &UpdateStatement{Table: tbl("ks", "t"), Using: Using{TTL: num("10"), Timestamp: mk(0)},
				Assignments: []Assignment{
					{Column: "a", Op: AssignSet, Value: mk(1)},
					{Column: "c", Op: AssignAdd, Value: num("1")},
					{Column: "l", Op: AssignPrepend, Value: &ListLiteral{Elems: []Term{mk(2)}}},
					{Column: "s", Op: AssignSub, Value: &SetLiteral{Elems: []Term{str("x")}}},
					{Column: "m", Key: mk(3), Op: AssignSet, Value: str("v")},
					{Column: "l", Key: num("0"), Op: AssignSet, Value: null()},
					{Column: "u", Field: "street", Op: AssignSet, Value: mk(4)},
					{Column: "n", Op: AssignAdd, Value: num("2")},
					{Column: "o", Op: AssignSub, Value: mk(5)},
				},
				Where: []Relation{eq("id", mk(6)), {Columns: []string{"ck"}, Op: OpIn, Values: []Term{num("1"), num("2")}}},
				Conditions: []Condition{
					{Column: "a", Op: OpEq, Value: num("3")},
					{Column: "m", Key: str("k"), Op: OpNeq, Value: mk(7)},
					{Column: "u", Field: "f", Op: OpIn, Values: []Term{num("1"), mk(8)}},
					{Column: "b", Op: OpGt, Value: num("2")},
				}},
			markers: 9,
		},
		{
			name:  "update c = c - 1 without spaces, IF EXISTS, trailing timeout",
			query: "UPDATE t SET c=c-1 WHERE id=? IF EXISTS USING TIMEOUT 5s",
			want: &UpdateStatement{Table: tbl("", "t"),
				Assignments: []Assignment{{Column: "c", Op: AssignSub, Value: num("1")}},
				Where:       []Relation{eq("id", mk(0))}, IfExists: true, Using: Using{Timeout: dur("5s")}},
			markers: 1,
		},
		{
			name:  "delete columns, elements and fields with conditions",
			query: "DELETE a, m[?], u.f FROM t USING TIMESTAMP 5 WHERE id = ? AND ck >= ? IF a = null",
			want: &DeleteStatement{Table: tbl("", "t"),
				Columns: []Deletion{{Column: "a"}, {Column: "m", Key: mk(0)}, {Column: "u", Field: "f"}},
				Using:   Using{Timestamp: num("5")},
				Where:   []Relation{eq("id", mk(1)), rel("ck", OpGte, mk(2))},
				Conditions: []Condition{
					{Column: "a", Op: OpEq, Value: null()},
				}},
			markers: 3,
		},
		{
			name:    "delete whole row IF EXISTS",
			query:   "DELETE FROM ks.t WHERE id = ? IF EXISTS",
			want:    &DeleteStatement{Table: tbl("ks", "t"), Where: []Relation{eq("id", mk(0))}, IfExists: true},
			markers: 1,
		},
		{
			name: "logged batch: one marker index space, optional semicolons",
			query: "BEGIN BATCH USING TIMESTAMP ? INSERT INTO orders (order_id, status) VALUES (?, ?); " +
				"INSERT INTO outbox_messages (aggregate_id, event_id, payload) VALUES (?, now(), ?) " +
				"UPDATE t SET v = ? WHERE id = ?; DELETE FROM t WHERE id = ?; APPLY BATCH;",
			want: &BatchStatement{Kind: BatchLogged, Using: Using{Timestamp: mk(0)}, Statements: []Statement{
				&InsertStatement{Table: tbl("", "orders"), Columns: []string{"order_id", "status"}, Values: []Term{mk(1), mk(2)}},
				&InsertStatement{Table: tbl("", "outbox_messages"), Columns: []string{"aggregate_id", "event_id", "payload"},
					Values: []Term{mk(3), fn("now"), mk(4)}},
				&UpdateStatement{Table: tbl("", "t"), Assignments: []Assignment{{Column: "v", Op: AssignSet, Value: mk(5)}},
					Where: []Relation{eq("id", mk(6))}},
				&DeleteStatement{Table: tbl("", "t"), Where: []Relation{eq("id", mk(7))}},
			}},
			markers: 8,
		},
		{
			name:  "unlogged and counter batches",
			query: "begin unlogged batch apply batch",
			want:  &BatchStatement{Kind: BatchUnlogged},
		},
		{
			name:  "counter batch",
			query: "BEGIN COUNTER BATCH UPDATE c SET n = n + 1 WHERE k = 'a'; APPLY BATCH",
			want: &BatchStatement{Kind: BatchCounter, Statements: []Statement{&UpdateStatement{Table: tbl("", "c"),
				Assignments: []Assignment{{Column: "n", Op: AssignAdd, Value: num("1")}},
				Where:       []Relation{eq("k", str("a"))}}}},
		},
		{
			name:  "USE with quoted keyspace, as gocql sends it",
			query: `USE "orders_ks"`,
			want:  &UseStatement{Keyspace: "orders_ks"},
		},
		{
			name:  "TRUNCATE with and without TABLE",
			query: "TRUNCATE TABLE ks.t",
			want:  &TruncateStatement{Table: tbl("ks", "t")},
		},
		{
			name:  "TRUNCATE bare",
			query: "truncate t",
			want:  &TruncateStatement{Table: tbl("", "t")},
		},
	}
	runParseCases(t, tests)
}

func TestParseDurationLiterals(t *testing.T) {
	for _, d := range []string{"1h30m", "12ms", "3d", "1y2mo", "1w", "10us", "10µs", "5ns", "1m0s", "P1Y2M3D", "PT1H30M", "P2W", "P1DT2H", "-3h"} {
		t.Run(d, func(t *testing.T) {
			p := mustParse(t, "UPDATE t SET d = "+d+" WHERE id = 1")
			got := p.Statement.(*UpdateStatement).Assignments[0].Value
			assertTree(t, got, dur(d))
		})
	}
}

func TestParseNumbers(t *testing.T) {
	tests := []struct {
		in   string
		want *Literal
	}{
		{"0", num("0")},
		{"-42", num("-42")},
		{"- 42", num("-42")},
		{"1.5", flt("1.5")},
		{"1.", flt("1.")},
		{"1e10", flt("1e10")},
		{"1E+3", flt("1E+3")},
		{"NaN", flt("NaN")},
		{"infinity", flt("Infinity")},
		{"0xCAFEbabe", &Literal{Kind: LitBlob, Text: "CAFEbabe"}},
		{"FALSE", boolean("false")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p := mustParse(t, "INSERT INTO t (v) VALUES ("+tt.in+")")
			assertTree(t, p.Statement.(*InsertStatement).Values[0], tt.want)
		})
	}
}
