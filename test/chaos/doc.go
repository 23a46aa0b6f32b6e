// Package chaos is the chaos run of the outbox node: the built binaries
// (outbox-node, a devstack store with a write-ahead log, a devstack broker
// with its outage switch) under a load of concurrent clients over
// Proto.Actor remote, while a seeded schedule kills the node and the store
// with SIGKILL, takes the broker down and stops the node with SIGTERM.
// At the end a sarama consumer reads every record back: no acknowledged
// command may be missing from Kafka, and no stop or start may hang. The
// short run is part of `go test ./...`; `make chaos` runs the long one.
// With OUTBOX_TEST_SCYLLA and OUTBOX_TEST_KAFKA set (test/harness) it runs
// on those services and kills and stops only the node.
package chaos
