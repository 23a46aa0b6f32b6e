#!/usr/bin/env bash
# Runs scylla-cdc-go's own integration tests (TestConsumer*, TestTypes*) at the
# version pinned in go.mod, unmodified, against miniscylla on a free loopback
# port. Exits with the tests' status; the server is stopped in every case.
set -euo pipefail
cd "$(dirname "$0")/../../.."

GO=${GO:-go}
tmp=$(mktemp -d)
server_pid=""
cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$GO" build -o "$tmp/serve" ./test/cdc/serve
"$tmp/serve" >"$tmp/addr" 2>"$tmp/server.log" &
server_pid=$!

addr=""
for _ in $(seq 1 100); do
	addr=$(head -n1 "$tmp/addr" 2>/dev/null || true)
	[ -n "$addr" ] && break
	kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; echo "conformance: server exited" >&2; exit 1; }
	sleep 0.1
done
[ -n "$addr" ] || { echo "conformance: server did not report its address" >&2; exit 1; }
echo "conformance: miniscylla at $addr"

status=0
SCYLLA_SRC_URI="$addr" "$GO" test -count=1 -v github.com/scylladb/scylla-cdc-go -run 'TestConsumer|TestTypes' || status=$?
if [ "$status" -ne 0 ] && [ -s "$tmp/server.log" ]; then
	echo "--- server log (tail)" >&2
	tail -n 50 "$tmp/server.log" >&2
fi
exit "$status"
