package cql

import (
	"errors"
	"strings"
	"testing"
)

func TestSyntaxErrors(t *testing.T) {
	tests := []struct {
		query string
		line  int
		col   int
		token string
		msg   string
	}{
		{"SELECT * FORM t", 1, 9, "FORM", "line 1:9 mismatched input 'FORM' expecting FROM"},
		{"SELECT a b FROM t", 1, 9, "b", "line 1:9 mismatched input 'b' expecting FROM"},
		{"SELEKT * FROM t", 1, 0, "SELEKT", "line 1:0 no viable alternative at input 'SELEKT'"},
		{"SELECT * FROM t WHERE", 1, 21, "<EOF>", "line 1:21 mismatched input '<EOF>' expecting identifier"},
		{"SELECT * FROM t\nWHERE a = = 1", 2, 10, "=", "line 2:10 no viable alternative at input '='"},
		{"SELECT * FROM t LIMIT 'x'", 1, 22, "'x'", "line 1:22 mismatched input ''x'' expecting INTEGER or ?"},
		{"SELECT * FROM t USING TIMEOUT 5", 1, 30, "5", "line 1:30 mismatched input '5' expecting DURATION or ?"},
		{"SELECT * FROM t; SELECT * FROM u", 1, 17, "SELECT", "line 1:17 mismatched input 'SELECT' expecting EOF"},
		{"SELECT * FROM select", 1, 14, "select", "line 1:14 mismatched input 'select' expecting identifier"},
		{"INSERT INTO t (a) VALUES ('x)", 1, 26, "'x)", "line 1:26 token recognition error at: ''x)'"},
		{"SELECT * FROM t /* open", 1, 16, "/*", "line 1:16 unterminated comment"},
		{"SELECT 'é', \"ü\" FORM t", 1, 16, "FORM", "line 1:16 mismatched input 'FORM' expecting FROM"},
		{"SELECT # FROM t", 1, 7, "#", "line 1:7 token recognition error at: '#'"},
		{"SELECT * FROM t WHERE a = 'ü' AND b = ü", 1, 38, "ü", "line 1:38 token recognition error at: 'ü'"},
		{"SELECT $$x FROM t", 1, 7, "$$x FROM t", "line 1:7 token recognition error at: '$$x FROM t'"},
		{"DESCRIBE KEYSPACE ks WITH INTERNALS", 1, 0, "DESCRIBE", "line 1:0 no viable alternative at input 'DESCRIBE'"},
		{"desc tables", 1, 0, "desc", "line 1:0 no viable alternative at input 'desc'"},
		{"BEGIN BATCH SELECT * FROM t APPLY BATCH", 1, 12, "SELECT", "line 1:12 mismatched input 'SELECT' expecting INSERT, UPDATE, DELETE or APPLY"},
		{"BEGIN BATCH INSERT INTO t (a) VALUES (1)", 1, 40, "<EOF>", "line 1:40 mismatched input '<EOF>' expecting INSERT, UPDATE, DELETE or APPLY"},
		{"UPDATE t USING TTL 1 AND TTL 2 SET a = 1 WHERE k = 1", 1, 25, "TTL", "line 1:25 mismatched input 'TTL' expecting TTL, TIMESTAMP or TIMEOUT"},
		{"DELETE FROM t USING TTL 1 WHERE k = 1", 1, 20, "TTL", "line 1:20 mismatched input 'TTL' expecting TTL, TIMESTAMP or TIMEOUT"},
		{"CREATE TABLE t (a int PRIMARY KEY", 1, 33, "<EOF>", "line 1:33 mismatched input '<EOF>' expecting ')'"},
		{"CREATE TABLE t (a map<int> PRIMARY KEY)", 1, 25, ">", "line 1:25 wrong number of type parameters at input '>'"},
		{"CREATE KEYSPACE ks", 1, 18, "<EOF>", "line 1:18 mismatched input '<EOF>' expecting WITH"},
		{"SELECT * FROM t WHERE a IN", 1, 26, "<EOF>", "line 1:26 mismatched input '<EOF>' expecting '(' or ?"},
		{"SELECT * FROM t WHERE a = ()", 1, 27, ")", "line 1:27 no viable alternative at input ')'"},
		{"SELECT * FROM t WHERE a = {1: 2, 3}", 1, 34, "}", "line 1:34 mismatched input '}' expecting ':'"},
		{"SELECT * FROM t WHERE a = -'x'", 1, 27, "'x'", "line 1:27 no viable alternative at input ''x''"},
		{"SELECT * FROM t WHERE a = b", 1, 26, "b", "line 1:26 no viable alternative at input 'b'"},
		{"", 1, 0, "<EOF>", "line 1:0 no viable alternative at input '<EOF>'"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, err := Parse(tt.query)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error = %T %v, want *SyntaxError", tt.query, err, err)
			}
			if se.Line != tt.line || se.Column != tt.col || se.Token != tt.token {
				t.Errorf("position %d:%d token %q, want %d:%d %q (%v)", se.Line, se.Column, se.Token, tt.line, tt.col, tt.token, err)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("message %q, want %q", err.Error(), tt.msg)
			}
		})
	}
}

func TestUnsupported(t *testing.T) {
	tests := map[string]string{
		"CREATE INDEX ON t (v)":                                "CREATE INDEX",
		"CREATE CUSTOM INDEX i ON t (v) USING 'x'":             "CREATE INDEX",
		"CREATE MATERIALIZED VIEW v AS SELECT * FROM t":        "CREATE MATERIALIZED VIEW",
		"CREATE FUNCTION f (a int) RETURNS int LANGUAGE lua":   "CREATE FUNCTION",
		"CREATE OR REPLACE AGGREGATE a (int) SFUNC f STYPE i":  "CREATE AGGREGATE",
		"CREATE ROLE r WITH PASSWORD = 'p'":                    "CREATE ROLE",
		"CREATE USER u":                                        "CREATE USER",
		"DROP INDEX ks.i":                                      "DROP INDEX",
		"DROP MATERIALIZED VIEW v":                             "DROP MATERIALIZED VIEW",
		"ALTER TYPE t ADD f int":                               "ALTER TYPE",
		"ALTER ROLE r WITH LOGIN = true":                       "ALTER ROLE",
		"ALTER TABLE t ALTER a TYPE text":                      "ALTER TABLE ... ALTER",
		"ALTER TABLE t RENAME a TO b":                          "ALTER TABLE ... RENAME",
		"GRANT SELECT ON ALL KEYSPACES TO r":                   "GRANT statements",
		"REVOKE SELECT ON ALL KEYSPACES FROM r":                "REVOKE statements",
		"LIST ROLES":                                           "LIST statements",
		"create trigger tr on t using 'org.example.MyTrigger'": "CREATE TRIGGER",
	}
	for q, what := range tests {
		t.Run(q, func(t *testing.T) {
			_, err := Parse(q)
			var ue *UnsupportedError
			if !errors.As(err, &ue) {
				t.Fatalf("Parse(%q) error = %T %v, want *UnsupportedError", q, err, err)
			}
			if ue.What != what || err.Error() != "not supported by miniscylla: "+what {
				t.Errorf("error %q, want what %q", err, what)
			}
		})
	}
}

func TestInvalid(t *testing.T) {
	tests := map[string]string{
		"INSERT INTO t (a) VALUES ()":                           "unmatched column names/values: 1 columns, 0 values",
		"INSERT INTO t (a, b) VALUES (1)":                       "unmatched column names/values: 2 columns, 1 values",
		"CREATE TABLE t (a int)":                                "no PRIMARY KEY specified (exactly one required)",
		"CREATE TABLE t (a int PRIMARY KEY, PRIMARY KEY (a))":   "multiple PRIMARY KEYs specified (exactly one required)",
		"CREATE TABLE t (a int PRIMARY KEY, b int PRIMARY KEY)": "multiple PRIMARY KEYs specified (exactly one required)",
		"UPDATE t SET a = b + 1 WHERE k = 1":                    "only expressions of the form X = X + <value> or X = <value> + X are supported, got a = b",
		"CREATE KEYSPACE ks WITH replication = {'a', 'b'}":      "property 'replication' must be a constant or a map literal",
		"CREATE KEYSPACE ks WITH replication = [1]":             "property 'replication' must be a constant or a map literal",
	}
	for q, msg := range tests {
		t.Run(q, func(t *testing.T) {
			_, err := Parse(q)
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("Parse(%q) error = %T %v, want *InvalidError", q, err, err)
			}
			if err.Error() != msg {
				t.Errorf("error %q, want %q", err, msg)
			}
		})
	}
}

func TestDeepNestingIsAnError(t *testing.T) {
	const n = 100000
	tests := map[string]string{
		"term":     "INSERT INTO t (a) VALUES (" + strings.Repeat("[", n) + ")",
		"selector": "SELECT " + strings.Repeat("f(", n) + " FROM t",
		"type":     "CREATE TABLE t (a " + strings.Repeat("list<", n) + "int",
	}
	for name, q := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(q)
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), "nesting too deep") {
				t.Fatalf("error = %v, want a nesting SyntaxError", err)
			}
		})
	}
}
