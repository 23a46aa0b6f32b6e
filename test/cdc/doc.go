// Package cdc holds the acceptance tests and benchmarks of miniscylla's CDC
// emulation: the unmodified scylla-cdc-go reader consuming a CDC table over
// the real gocql driver, resuming from saved progress, and its throughput
// and commit-to-consume latency. Command serve runs a server for
// infra/miniscylla/cdc/conformance.sh.
package cdc
