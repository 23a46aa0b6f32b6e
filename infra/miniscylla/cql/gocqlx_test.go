package cql

//lint:file-ignore SA1019 the tests parse the CQL text that gocqlx's (deprecated) qb.Batch builds, which applications still send

import (
	"testing"
	"time"

	"github.com/scylladb/gocqlx/v2/qb"
)

// builder is what every gocqlx qb builder offers.
type builder interface {
	ToCql() (stmt string, names []string)
}

// gocqlxStatements are statements built by the real gocqlx qb package, so
// its exact spelling (id=? without spaces, "cdc$time" quoting, Go-syntax
// durations such as 1m0s, trailing spaces) is covered.
func gocqlxStatements() map[string]builder {
	return map[string]builder{
		"select by key": qb.Select("orders_ks.orders").Where(qb.Eq("order_id")),
		"select columns, range, order, limits, filtering, cache, timeout": qb.Select("ks.t").
			Columns("a", qb.As("b", "bee"), "writetime(c)", "ttl(c)").
			Where(qb.Eq("id"), qb.GtOrEq("ck"), qb.Lt("ck"), qb.InTuple("x", 2), qb.ContainsKey("m"), qb.Like("s")).
			OrderBy("ck", qb.DESC).LimitPerPartition(2).Limit(10).AllowFiltering().BypassCache().Timeout(time.Minute),
		"select cdc log": qb.Select("ks.t_scylla_cdc_log").
			Where(qb.In(`"cdc$stream_id"`), qb.Gt(`"cdc$time"`), qb.LtOrEq(`"cdc$time"`)).BypassCache(),
		"select named limits and timeout": qb.Select("t").LimitNamed("lim").LimitPerPartitionNamed("ppl").TimeoutNamed("to"),
		"select count and functions": qb.Select("t").CountAll().
			Where(qb.GtFunc("ts", qb.MinTimeuuid("from")), qb.LtFunc("ts", qb.MaxTimeuuid("to")), qb.LtOrEqFunc("ts", qb.Now())),
		"select distinct":            qb.Select("t").Distinct("pk"),
		"select group by":            qb.Select("t").GroupBy("pk").Max("v"),
		"select token":               qb.Select("t").Where(qb.Token("a", "b").Gt(), qb.Token("a", "b").LtOrEqValue()),
		"select tuple comparisons":   qb.Select("t").Where(qb.EqTuple("tu", 3), qb.NeLit("a", "'x'"), qb.Contains("s")),
		"insert":                     qb.Insert("orders_ks.orders").Columns("order_id", "status", "version"),
		"insert lwt with ttl":        qb.Insert("t").Columns("id").Unique().TTL(time.Hour).Timestamp(time.UnixMicro(1700000000000000)),
		"insert named ttl and lit":   qb.Insert("t").Columns("id").LitColumn("v", "now()").TTLNamed("ttl").TimeoutNamed("timeout"),
		"insert func and tuple":      qb.Insert("t").FuncColumn("ts", qb.Now()).TupleColumn("tu", 2),
		"update":                     qb.Update("t").Set("a", "b").Add("c").Remove("s").SetLit("d", "null").Where(qb.Eq("id")).If(qb.Eq("version")),
		"update existing with using": qb.Update("t").TTL(time.Second).Timeout(time.Second).Set("a").Where(qb.Eq("id")).Existing(),
		"update func and tuple":      qb.Update("t").SetFunc("ts", qb.Now()).SetTuple("tu", 2).AddNamed("l", "extra").Where(qb.Eq("id")),
		"delete columns":             qb.Delete("t").Columns("a", "b").Where(qb.Eq("id")).If(qb.Gt("version")),
		"delete row existing":        qb.Delete("t").Where(qb.Eq("id")).Existing().Timestamp(time.UnixMicro(5)),
		"delete with timeout":        qb.Delete("t").Where(qb.InNamed("id", "ids")).Timeout(30 * time.Second),
		"logged batch, order+outbox": qb.Batch().
			Add(qb.Insert("orders_ks.orders").Columns("order_id", "status", "version")).
			Add(qb.Insert("orders_ks.outbox_messages").Columns("aggregate_id", "event_id", "payload")).
			AddWithPrefix("u", qb.Update("orders_ks.orders").Set("status").Where(qb.Eq("order_id")).If(qb.Eq("version"))),
		"unlogged batch with using": qb.Batch().UnLogged().TimestampNamed("ts").Add(qb.Delete("t").Where(qb.Eq("id"))),
		"counter batch":             qb.Batch().Counter().Add(qb.Update("c").Add("n").Where(qb.Eq("k"))),
	}
}

func TestParseGocqlxBuilders(t *testing.T) {
	for name, b := range gocqlxStatements() {
		t.Run(name, func(t *testing.T) {
			stmt, names := b.ToCql()
			p := mustParse(t, stmt)
			assertMarkers(t, p, len(names))
		})
	}
}

func TestParseGocqlxShapes(t *testing.T) {
	t.Run("id=? and durations in Go syntax", func(t *testing.T) {
		stmt, _ := qb.Select("ks.t").Where(qb.Eq("id")).Timeout(time.Minute).ToCql()
		assertTree(t, mustParse(t, stmt).Statement, &SelectStatement{Table: tbl("ks", "t"),
			Where: []Relation{eq("id", mk(0))}, Timeout: dur("1m0s")})
	})
	t.Run("quoted cdc columns", func(t *testing.T) {
		stmt, _ := qb.Select("ks.t_scylla_cdc_log").Columns(`"cdc$time"`).Where(qb.Eq(`"cdc$stream_id"`)).ToCql()
		assertTree(t, mustParse(t, stmt).Statement, &SelectStatement{Selectors: cols("cdc$time"),
			Table: tbl("ks", "t_scylla_cdc_log"), Where: []Relation{eq("cdc$stream_id", mk(0))}})
	})
	t.Run("token relation", func(t *testing.T) {
		stmt, _ := qb.Select("t").Where(qb.Token("a", "b").Gt()).ToCql()
		assertTree(t, mustParse(t, stmt).Statement, &SelectStatement{Table: tbl("", "t"), Where: []Relation{
			{Columns: []string{"a", "b"}, Token: true, Op: OpGt, Value: fn("token", mk(0), mk(1))}}})
	})
	t.Run("update add, remove and condition", func(t *testing.T) {
		stmt, _ := qb.Update("t").Add("c").Remove("s").Where(qb.Eq("id")).If(qb.Eq("v")).ToCql()
		assertTree(t, mustParse(t, stmt).Statement, &UpdateStatement{Table: tbl("", "t"),
			Assignments: []Assignment{{Column: "c", Op: AssignAdd, Value: mk(0)}, {Column: "s", Op: AssignSub, Value: mk(1)}},
			Where:       []Relation{eq("id", mk(2))},
			Conditions:  []Condition{{Column: "v", Op: OpEq, Value: mk(3)}}})
	})
	t.Run("batch shares marker indexes", func(t *testing.T) {
		stmt, names := qb.Batch().
			Add(qb.Insert("a").Columns("x", "y")).
			Add(qb.Update("b").Set("z").Where(qb.Eq("k"))).ToCql()
		p := mustParse(t, stmt)
		assertMarkers(t, p, len(names))
		b := p.Statement.(*BatchStatement)
		assertTree(t, b.Statements[1].(*UpdateStatement).Where, []Relation{eq("k", mk(3))})
	})
}
