package cql_test

import (
	"errors"
	"fmt"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

func ExampleParseQuery() {
	p, err := cql.ParseQuery(`SELECT * FROM ks.t_scylla_cdc_log WHERE "cdc$stream_id" = ? AND "cdc$time" > ? BYPASS CACHE`)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := p.Statement.(*cql.SelectStatement)
	fmt.Println(s.Table, s.Where[1].Columns[0], s.Where[1].Op, p.NumMarkers(), s.BypassCache)
	// Output: ks.t_scylla_cdc_log cdc$time > 2 true
}

func ExampleParse_errors() {
	_, err := cql.Parse("SELECT * FORM t")
	var se *cql.SyntaxError
	fmt.Println(errors.As(err, &se), err)

	_, err = cql.Parse("CREATE INDEX ON t (v)")
	var ue *cql.UnsupportedError
	fmt.Println(errors.As(err, &ue), err)
	// Output:
	// true line 1:9 mismatched input 'FORM' expecting FROM
	// true not supported by miniscylla: CREATE INDEX
}

func ExampleParseType() {
	t, _ := cql.ParseType("FROZEN<map<TEXT,varchar>>")
	fmt.Println(t.Kind == cql.TypeMap, t.Frozen, t)
	// Output: true true frozen<map<text, text>>
}
