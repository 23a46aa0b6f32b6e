#!/usr/bin/python3
"""Logs in to miniscylla with the DataStax Python driver over TLS.

Usage: pydriver_auth.py HOST PORT USER PASSWORD CA_FILE

Connects with PlainTextAuthProvider and an SSL context trusting CA_FILE
(host name checked). Prints "ok: <release_version> roles=<names>" after a
query, or "refused: <error>" when the login is refused; any other failure
exits non-zero.
"""
import ssl
import sys

from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable


def main():
    host, port, user, password, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.check_hostname = True
    cluster = Cluster([host], port=port, protocol_version=4, ssl_context=ctx,
                      auth_provider=PlainTextAuthProvider(username=user, password=password))
    try:
        session = cluster.connect()
    except NoHostAvailable as e:
        errors = list(e.errors.values())
        if errors and all(type(x).__name__ == "AuthenticationFailed" for x in errors):
            print("refused: %s" % errors[0])
            return
        raise
    version = session.execute("SELECT release_version FROM system.local").one()[0]
    roles = sorted(r.role for r in session.execute("SELECT role FROM system_auth.roles"))
    cluster.shutdown()
    print("ok: %s roles=%s" % (version, ",".join(roles)))


if __name__ == "__main__":
    main()
