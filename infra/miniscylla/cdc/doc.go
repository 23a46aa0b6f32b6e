// Package cdc emulates ScyllaDB's Change Data Capture for miniscylla: it sits
// between the engine's write path and the `<table>_scylla_cdc_log` tables that
// scylla-cdc-go polls. It validates `WITH cdc = {...}` options and encodes
// them as the schema extension, owns the stream generation (stream ids,
// token -> stream mapping) of vnode keyspaces and the per-table stream sets
// (one stream per tablet) of tablets keyspaces, the cdc$time clock, and
// turns one base write per (partition, timestamp) into the ordered log rows
// of one change.
//
// The package holds no schema or table data: the engine (engine/cdc*.go)
// derives log-table schemas, describes each write as a Change, calls Log.Rows
// inside its atomic apply and stores the rows it returns, so a change and its
// log rows become visible together.
package cdc
