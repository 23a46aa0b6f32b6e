// Package cql turns CQL text into an abstract syntax tree: it is the first
// step of every request miniscylla serves (wire server -> engine -> cql.Parse
// -> engine execution). It covers the CQL subset that gocql, gocqlx and
// scylla-cdc-go send to ScyllaDB, reports bad input as a *SyntaxError with
// line:column, and known-but-unsupported statements as an *UnsupportedError.
//
// The parser is a hand-written recursive descent over a lexer that walks the
// string in place, so parsing a plain QUERY allocates little.
package cql
