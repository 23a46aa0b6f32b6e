// Package cql turns CQL text into an abstract syntax tree: it is the first
// step of every request miniscylla serves (wire server -> engine ->
// cql.ParseQuery -> engine execution). It covers the CQL subset that gocql,
// gocqlx and scylla-cdc-go send to ScyllaDB:
//
//   - SELECT [JSON] [DISTINCT] with columns, aliases, COUNT(*), WRITETIME, TTL,
//     CAST and function calls; WHERE relations (=, !=, <, <=, >, >=, IN,
//     CONTAINS [KEY], LIKE, token(...), tuples); GROUP BY, ORDER BY,
//     PER PARTITION LIMIT, LIMIT, ALLOW FILTERING, BYPASS CACHE and
//     USING TIMEOUT, which gocql appends to its system queries.
//   - INSERT (also INSERT ... JSON with DEFAULT NULL|UNSET), UPDATE, DELETE with USING TTL/TIMESTAMP/TIMEOUT, collection
//     and UDT-field operations, IF [NOT] EXISTS and IF conditions; BEGIN
//     [UNLOGGED|COUNTER] BATCH ... APPLY BATCH.
//   - USE, CREATE/ALTER/DROP KEYSPACE, CREATE/ALTER/DROP TABLE, TRUNCATE,
//     CREATE/DROP TYPE; ParseType for system_schema type strings.
//
// Bad input is a *SyntaxError with line:column (DESCRIBE included: gocql
// expects exactly that), known statements miniscylla does not implement
// (indexes, views, functions, roles) an *UnsupportedError, and
// well-formed but impossible statements an *InvalidError.
//
// The parser is hand-written recursive descent over a lexer that slices the
// query string in place, so a plain QUERY costs a few microseconds and a
// few dozen small allocations (BenchmarkParse).
package cql
