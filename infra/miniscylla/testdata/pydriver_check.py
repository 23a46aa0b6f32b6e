#!/usr/bin/python3
"""Checks miniscylla with the DataStax Python driver (Debian python3-cassandra).

Usage: pydriver_check.py HOST PORT

Uses DEFAULT Cluster settings apart from the contact point, so the driver
negotiates the protocol version itself (it starts above v4 and downgrades).
Creates a keyspace, a user type and tables (one with a descending clustering
order and collection columns), reads them back through cluster.metadata, runs
simple and prepared statements, a LOGGED batch, pages over a few thousand rows
(prepared and simple statements), a lightweight transaction and a read of
system.local. Exits non-zero on the first mismatch.
"""
import sys

from cassandra.cluster import Cluster
from cassandra.query import BatchStatement, BatchType, SimpleStatement

ROWS = 3000
PAGE = 250


def check(cond, what):
    if not cond:
        print("MISMATCH: " + what, file=sys.stderr)
        sys.exit(1)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    cluster = Cluster([host], port=port)
    session = cluster.connect()
    check(cluster.protocol_version == 4, "negotiated protocol v%d, want 4" % cluster.protocol_version)

    session.execute("CREATE KEYSPACE pycheck WITH replication = "
                    "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    session.execute("CREATE TABLE pycheck.items (pk int, ck int, name text, payload blob, "
                    "PRIMARY KEY ((pk), ck))")

    cluster.refresh_schema_metadata()
    check("pycheck" in cluster.metadata.keyspaces, "keyspace pycheck missing from metadata")
    table = cluster.metadata.keyspaces["pycheck"].tables.get("items")
    check(table is not None, "table pycheck.items missing from metadata")
    check([c.name for c in table.partition_key] == ["pk"], "partition key %r" % table.partition_key)
    check([c.name for c in table.clustering_key] == ["ck"], "clustering key %r" % table.clustering_key)
    types = {name: col.cql_type for name, col in table.columns.items()}
    check(types == {"pk": "int", "ck": "int", "name": "text", "payload": "blob"}, "column types %r" % types)

    insert = session.prepare("INSERT INTO pycheck.items (pk, ck, name, payload) VALUES (?, ?, ?, ?)")
    futures = [session.execute_async(insert, (1, i, "n%d" % i, bytes([i % 256]))) for i in range(ROWS)]
    for f in futures:
        f.result()

    batch = BatchStatement(batch_type=BatchType.LOGGED)
    batch.add(insert, (2, 0, "a", b"\x00"))
    batch.add(insert, (2, 1, "b", b"\x01"))
    batch.add(SimpleStatement("INSERT INTO pycheck.items (pk, ck, name) VALUES (2, 2, 'c')"))
    session.execute(batch)

    select = session.prepare("SELECT ck, name, payload FROM pycheck.items WHERE pk = ?")
    rows = [(r.ck, r.name, r.payload) for r in session.execute(select, (2,))]
    check(rows == [(0, "a", b"\x00"), (1, "b", b"\x01"), (2, "c", None)], "batch rows %r" % rows)

    bound = select.bind((1,))
    bound.fetch_size = PAGE
    result = session.execute(bound)
    got, pages = list(result.current_rows), 1
    while result.has_more_pages:
        check(len(result.current_rows) <= PAGE, "page of %d rows, fetch_size %d" % (len(result.current_rows), PAGE))
        result.fetch_next_page()
        got.extend(result.current_rows)
        pages += 1
    check(pages >= ROWS // PAGE, "%d pages for %d rows of %d" % (pages, ROWS, PAGE))
    check([r.ck for r in got] == list(range(ROWS)), "paged clustering keys out of order or missing")
    for r in got:
        check(r.name == "n%d" % r.ck and r.payload == bytes([r.ck % 256]), "row %r" % (r,))

    count = session.execute("SELECT COUNT(*) FROM pycheck.items WHERE pk = 1").one()[0]
    check(count == ROWS, "COUNT(*) = %d, want %d" % (count, ROWS))

    check_types_and_order(cluster, session)

    cluster.shutdown()
    print("ok: %d rows in %d pages, batch and metadata verified" % (len(got), pages))


def check_types_and_order(cluster, session):
    """DDL with a UDT, a map and DESC clustering; simple-statement paging; LWT."""
    session.execute("CREATE TYPE pycheck.addr (street text, zip int)")
    session.execute("CREATE TABLE pycheck.t (k int, c text, v map<text, int>, a frozen<addr>, "
                    "PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC)")
    session.execute("INSERT INTO pycheck.t (k, c, v) VALUES (%s, %s, %s)", (1, "x", {"a": 1}))
    insert = session.prepare("INSERT INTO pycheck.t (k, c, v) VALUES (?, ?, ?)")
    session.execute(insert, (1, "y", {"b": 2}))
    rows = [(r.c, r.v) for r in session.execute("SELECT k, c, v FROM pycheck.t WHERE k = 1")]
    check(rows == [("y", {"b": 2}), ("x", {"a": 1})], "DESC rows %r" % rows)

    cluster.refresh_schema_metadata()
    ks = cluster.metadata.keyspaces["pycheck"]
    t = ks.tables["t"]
    check([c.name for c in t.partition_key] == ["k"], "partition key %r" % t.partition_key)
    check(t.clustering_key[0].name == "c" and t.clustering_key[0].is_reversed, "clustering key not reversed")
    check("addr" in ks.user_types, "user type addr missing from metadata")

    for i in range(250):
        session.execute(insert, (2, "r%03d" % i, {}))
    paged = list(session.execute(SimpleStatement("SELECT c FROM pycheck.t WHERE k = 2", fetch_size=100)))
    check(len(paged) == 250 and paged[0].c == "r249", "simple paging: %d rows, first %r" % (len(paged), paged[:1]))

    lwt = session.execute("INSERT INTO pycheck.t (k, c) VALUES (1, 'x') IF NOT EXISTS").one()
    check(lwt[0] is False, "IF NOT EXISTS on an existing row applied: %r" % (lwt,))

    local = session.execute("SELECT * FROM system.local WHERE key='local'").one()
    check(local.partitioner == "org.apache.cassandra.dht.Murmur3Partitioner", "partitioner %r" % local.partitioner)


if __name__ == "__main__":
    main()
