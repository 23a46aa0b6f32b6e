package cql

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Constructors that keep the expected trees in the tables short.

func mk(i int) *BindMarker              { return &BindMarker{Index: i} }
func named(i int, n string) *BindMarker { return &BindMarker{Index: i, Name: n} }
func str(s string) *Literal             { return &Literal{Kind: LitString, Text: s} }
func num(s string) *Literal             { return &Literal{Kind: LitInteger, Text: s} }
func flt(s string) *Literal             { return &Literal{Kind: LitFloat, Text: s} }
func boolean(s string) *Literal         { return &Literal{Kind: LitBool, Text: s} }
func dur(s string) *Literal             { return &Literal{Kind: LitDuration, Text: s} }
func null() *Literal                    { return &Literal{Kind: LitNull} }
func tbl(ks, name string) TableName     { return TableName{Keyspace: ks, Name: name} }
func cols(names ...string) []Selector {
	sels := make([]Selector, len(names))
	for i, n := range names {
		sels[i] = Selector{Expr: &SelectColumn{Name: n}}
	}
	return sels
}
func eq(col string, v Term) Relation { return Relation{Columns: []string{col}, Op: OpEq, Value: v} }
func rel(col string, op Operator, v Term) Relation {
	return Relation{Columns: []string{col}, Op: op, Value: v}
}
func fn(name string, args ...Term) *FunctionCall { return &FunctionCall{Name: name, Args: args} }
func native(k TypeKind) *Type                    { return &Type{Kind: k} }
func frozen(t *Type) *Type                       { t.Frozen = true; return t }
func coll(k TypeKind, elems ...*Type) *Type      { return &Type{Kind: k, Elems: elems} }

// parseCase is one query, the tree it parses to and its number of bind markers.
type parseCase struct {
	name    string
	query   string
	want    Statement
	markers int
}

// runParseCases runs each case as a subtest.
func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.query)
			assertTree(t, p.Statement, tc.want)
			assertMarkers(t, p, tc.markers)
		})
	}
}

// mustParse parses q and fails the test on error.
func mustParse(t *testing.T, q string) *Parsed {
	t.Helper()
	p, err := ParseQuery(q)
	if err != nil {
		t.Fatalf("ParseQuery(%q): %v", q, err)
	}
	return p
}

// assertTree compares trees and prints both as JSON on mismatch, which is
// far easier to read than %+v of nested pointers.
func assertTree(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("tree mismatch\n got: %s\nwant: %s", g, w)
	}
}

// assertMarkers checks that markers are numbered 0..n-1 in order.
func assertMarkers(t *testing.T, p *Parsed, n int) {
	t.Helper()
	if p.NumMarkers() != n {
		t.Errorf("NumMarkers = %d, want %d", p.NumMarkers(), n)
	}
	for i, m := range p.Markers {
		if m.Index != i {
			t.Errorf("marker %d has Index %d", i, m.Index)
		}
	}
}
