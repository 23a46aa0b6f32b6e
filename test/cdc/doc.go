// Package cdc holds the acceptance tests and benchmarks of miniscylla's CDC
// emulation: the unmodified scylla-cdc-go reader consuming a CDC table over
// the real gocql driver, resuming from saved progress, and its throughput
// and commit-to-consume latency. With OUTBOX_TEST_SCYLLA set the tests read
// that store instead, each in a keyspace of its own, with a real cluster's
// confidence window (test/harness). Command serve runs a server for
// infra/miniscylla/cdc/conformance.sh.
package cdc
