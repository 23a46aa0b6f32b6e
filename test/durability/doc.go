// Package durability holds the acceptance tests and the benchmark of
// miniscylla's write-ahead log: cmd/devstack runs as a subprocess with
// --data-dir, gocqlx writes through it, the process is killed with SIGKILL
// (sometimes with its log's last record torn afterwards), restarted, and
// every acknowledged row, TTL and CDC change must be back; a scylla-cdc-go
// reader with table-backed progress resumes across the crash.
package durability
