#!/usr/bin/python3
"""Checks miniscylla's CQL fidelity with the DataStax Python driver.

Usage: pydriver_fidelity.py HOST PORT CASES_JSON

The server already holds the fid keyspace (fidelity_test.go). For every
paging case in CASES_JSON the script reads the query in one page, then
pages it with each of the case's fetch sizes and requires every row exactly
once, over lz4-compressed connections; a second, snappy-compressed cluster
pages every case with its largest fetch size. It then checks SELECT JSON / INSERT JSON (bound and DEFAULT UNSET),
GROUP BY paged by one group, and tracing as the driver reads it
(trace=True, which polls system_traces.sessions, then events).
Exits non-zero on the first mismatch.
"""
import json
import sys

from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import RoundRobinPolicy, TokenAwarePolicy
from cassandra.query import SimpleStatement


def check(cond, what):
    if not cond:
        print("MISMATCH: " + what, file=sys.stderr)
        sys.exit(1)


def render(row):
    return ",".join("null" if v is None else str(v) for v in row)


def fetch(session, query, size):
    return [render(r) for r in session.execute(SimpleStatement(query, fetch_size=size))]


def exactly_once(name, got, want):
    check(len(set(got)) == len(got), "%s: a row came back twice (%d rows, %d distinct)" % (name, len(got), len(set(got))))
    check(len(got) == len(want), "%s: %d rows, want %d" % (name, len(got), len(want)))
    check(set(got) == set(want), "%s: rows differ from the unpaged result" % name)


def main():
    host, port, spec = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(spec) as f:
        cases = json.load(f)
    pages = 0
    for compression, all_sizes in (("snappy", False), ("lz4", True)):
        profile = ExecutionProfile(load_balancing_policy=TokenAwarePolicy(RoundRobinPolicy()))
        cluster = Cluster([host], port=port, compression=compression,
                          execution_profiles={EXEC_PROFILE_DEFAULT: profile})
        session = cluster.connect()
        conn = cluster.control_connection._connection
        check(conn.compressor is not None, "%s: the connection is not compressed" % compression)
        for case in cases:
            want = fetch(session, case["query"], 100000)
            check(len(want) == case["want"], "%s: %d rows in one page, want %d" % (case["name"], len(want), case["want"]))
            for size in case["sizes"] if all_sizes else case["sizes"][-1:]:
                name = "%s, fetch size %d, %s" % (case["name"], size, compression)
                exactly_once(name, fetch(session, case["query"], size), want)
                pages += 1
        if not all_sizes:
            cluster.shutdown()

    # INSERT JSON bound and literal, SELECT JSON.
    insert = session.prepare("INSERT INTO fid.docs JSON ?")
    session.execute(insert, ['{"id": 7, "c": 1, "t": "py", "ts": 1704164645678, "l": [2, 1], "m": {"k": 5}}'])
    got = session.execute("SELECT JSON id, t, ts, l, m, b FROM fid.docs WHERE id = 7").one()[0]
    want = '{"id": 7, "t": "py", "ts": "2024-01-02 03:04:05.678Z", "l": [2, 1], "m": {"k": 5}, "b": null}'
    check(got == want, "SELECT JSON: %s, want %s" % (got, want))
    session.execute("""INSERT INTO fid.docs JSON '{"id": 7, "c": 1, "b": "0x01"}' DEFAULT UNSET""")
    got = session.execute("SELECT JSON t, b FROM fid.docs WHERE id = 7 AND c = 1").one()[0]
    check(got == '{"t": "py", "b": "0x01"}', "after DEFAULT UNSET: %s" % got)
    try:
        session.execute("""INSERT INTO fid.docs JSON '{"id": 7, "c": 2, "nope": 1}'""")
        check(False, "INSERT JSON with an unknown column succeeded")
    except Exception as e:  # the driver raises InvalidRequest
        check("unrecognized column: nope" in str(e), "INSERT JSON unknown column: %s" % e)

    # GROUP BY, one group per page.
    groups = list(session.execute(SimpleStatement(
        "SELECT k, count(*), sum(v) FROM fid.wide WHERE k IN (0, 5, 33) GROUP BY k", fetch_size=1)))
    got = sorted(tuple(g) for g in groups)
    check(got == [(0, 6000, 6000), (5, 10, 9), (33, 1, 0)], "GROUP BY: %r" % got)

    # Tracing: the driver waits for the session's duration, then reads events.
    rs = session.execute(SimpleStatement("SELECT k, c FROM fid.wide WHERE k = 1"), trace=True)
    trace = rs.get_query_trace(max_wait_sec=30)
    check(trace.duration is not None and trace.duration.total_seconds() > 0, "trace duration %r" % trace.duration)
    check(trace.request_type == "Execute CQL3 query", "trace request %r" % trace.request_type)
    acts = [e.description for e in trace.events]
    check(any(a.startswith("Read 10 live row(s) from 1 partition(s) of fid.wide") for a in acts), "trace events %r" % acts)
    check(acts[-1] == "Done processing - preparing a result", "last trace event %r" % acts[-1])

    cluster.shutdown()
    print("ok: %d paging cases, %d paged runs (snappy, lz4), JSON, GROUP BY, tracing (%d events)" % (len(cases), pages, len(acts)))


if __name__ == "__main__":
    main()
