package cql

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParse checks that no input panics, that every error is one of the
// package's typed errors, and that accepted statements number their markers
// 0..n-1. Seeds: testdata/fuzz/FuzzParse plus the gocqlx-built statements.
func FuzzParse(f *testing.F) {
	for _, b := range gocqlxStatements() {
		stmt, _ := b.ToCql()
		f.Add(stmt)
	}
	f.Fuzz(func(t *testing.T, q string) {
		p, err := ParseQuery(q)
		if err != nil {
			checkTypedError(t, q, err)
		} else {
			if p.Statement == nil {
				t.Fatalf("ParseQuery(%q) returned a nil statement without error", q)
			}
			for i, m := range p.Markers {
				if m.Index != i {
					t.Fatalf("ParseQuery(%q): marker %d has index %d", q, i, m.Index)
				}
			}
		}
		typ, err := ParseType(q)
		if err != nil {
			checkTypedError(t, q, err)
			return
		}
		back, err := ParseType(typ.String())
		if err != nil || !reflect.DeepEqual(back, typ) {
			t.Fatalf("ParseType(%q).String() = %q does not read back: %v", q, typ.String(), err)
		}
	})
}

func checkTypedError(t *testing.T, q string, err error) {
	t.Helper()
	var (
		se *SyntaxError
		ue *UnsupportedError
		ie *InvalidError
	)
	switch {
	case errors.As(err, &se):
		if se.Line < 1 || se.Column < 0 {
			t.Fatalf("%q: bad position in %v", q, err)
		}
	case errors.As(err, &ue), errors.As(err, &ie):
	default:
		t.Fatalf("%q: untyped error %T %v", q, err, err)
	}
}
