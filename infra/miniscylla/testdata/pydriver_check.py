#!/usr/bin/python3
"""Checks miniscylla with the DataStax Python driver (Debian python3-cassandra).

Usage: pydriver_check.py HOST PORT

Uses DEFAULT Cluster settings apart from the contact point, so the driver
negotiates the protocol version itself (it starts above v4 and downgrades).
Creates a keyspace and a table, reads them back through cluster.metadata, runs
prepared statements, a LOGGED batch, and pages over a few thousand rows.
Exits non-zero on the first mismatch.
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

    cluster.shutdown()
    print("ok: %d rows in %d pages, batch and metadata verified" % (len(got), pages))


if __name__ == "__main__":
    main()
