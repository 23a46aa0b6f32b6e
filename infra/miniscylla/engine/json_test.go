package engine

import (
	"strings"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/message"
)

func jsonRows(t *testing.T, e *Engine, sess *Session, q string) []string {
	t.Helper()
	res := query(e, sess, q)
	rows, ok := res.(*message.RowsResult)
	if !ok {
		t.Fatalf("%s: %v", q, res)
	}
	if len(rows.Metadata.Columns) != 1 || rows.Metadata.Columns[0].Name != "[json]" {
		t.Fatalf("%s: columns %v, want one [json]", q, rows.Metadata.Columns)
	}
	out := make([]string, len(rows.Data))
	for i, r := range rows.Data {
		out[i] = string(r[0])
	}
	return out
}

// TestJSONRoundTrip writes rows with INSERT JSON (literal and bound, both
// DEFAULT modes) and reads them back with SELECT JSON in Cassandra's forms.
func TestJSONRoundTrip(t *testing.T) {
	e, sess := newTestEngine(t,
		`CREATE TYPE addr (street text, "No" int)`,
		`CREATE TABLE j (id uuid, c timeuuid, t text, ts timestamp, b blob, l list<int>, s set<text>, m map<int, text>,
			d decimal, f double, ok boolean, dt date, a frozen<addr>, tu tuple<int, text>, "Mixed" int, PRIMARY KEY (id, c))`)
	mustExec(t, e, sess, `INSERT INTO j JSON '{"id": "6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47", "c": "d2177dd0-eaa2-11de-a572-001b779c76e3",
		"t": "it''s \"q\"", "ts": "2024-01-02 03:04:05.678Z", "b": "0xcafe", "l": [3, 1], "s": ["b", "a"], "m": {"2": "two", "1": "one"},
		"d": 1.50, "f": 2.5, "ok": true, "dt": "2024-02-29", "a": {"street": "Main", "\"No\"": 7}, "tu": [1, "x"], "\"Mixed\"": 4}'`)
	got := jsonRows(t, e, sess, `SELECT JSON * FROM j`)
	want := `{"id": "6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47", "c": "d2177dd0-eaa2-11de-a572-001b779c76e3", "\"Mixed\"": 4, ` +
		`"a": {"street": "Main", "\"No\"": 7}, "b": "0xcafe", "d": 1.50, "dt": "2024-02-29", "f": 2.5, "l": [3, 1], ` +
		`"m": {"1": "one", "2": "two"}, "ok": true, "s": ["a", "b"], "t": "it's \"q\"", "ts": "2024-01-02 03:04:05.678Z", "tu": [1, "x"]}`
	if len(got) != 1 || got[0] != want {
		t.Fatalf("SELECT JSON *:\n got %v\nwant %s", got, want)
	}
	// DEFAULT UNSET keeps t; the default (NULL) clears it.
	mustExec(t, e, sess, `INSERT INTO j JSON '{"id": "6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47", "c": "d2177dd0-eaa2-11de-a572-001b779c76e3", "f": 3}' DEFAULT UNSET`)
	if got := jsonRows(t, e, sess, `SELECT JSON t, f FROM j`); got[0] != `{"t": "it's \"q\"", "f": 3.0}` {
		t.Errorf("after DEFAULT UNSET: %v", got)
	}
	res := query(e, sess, `INSERT INTO j JSON ?`, []byte(`{"id": "6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47", "c": "d2177dd0-eaa2-11de-a572-001b779c76e3", "f": 4}`))
	if isError(res) {
		t.Fatal(res)
	}
	if got := jsonRows(t, e, sess, `SELECT JSON t, f, "Mixed", count(*) FROM j`); got[0] != `{"t": null, "f": 4.0, "\"Mixed\"": null, "count": 1}` {
		t.Errorf("after DEFAULT NULL through a marker: %v", got)
	}
	for q, msg := range map[string]string{
		`INSERT INTO j JSON '{"id": "6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47", "c": "d2177dd0-eaa2-11de-a572-001b779c76e3", "nope": 1}'`: "unrecognized column: nope",
		`INSERT INTO j JSON '{"id": '`: "Could not decode JSON",
		`INSERT INTO j JSON '[1, 2]'`:  "Could not decode JSON",
		`INSERT INTO j JSON '{"id": "6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47", "c": "d2177dd0-eaa2-11de-a572-001b779c76e3", "l": "x"}'`: "Error decoding JSON value for l",
		`INSERT INTO j JSON '{"c": "d2177dd0-eaa2-11de-a572-001b779c76e3"}'`:                                                         "Invalid null value in condition for column id",
	} {
		res := query(e, sess, q)
		inv, ok := res.(*message.Invalid)
		if !ok || !strings.Contains(inv.ErrorMessage, msg) {
			t.Errorf("%s: %v, want Invalid %q", q, res, msg)
		}
	}
}
