// Package cdc emulates ScyllaDB's Change Data Capture for miniscylla: it sits
// between the engine's write path and the `<table>_scylla_cdc_log` tables that
// scylla-cdc-go polls. It validates `WITH cdc = {...}` options, encodes the
// schema extension, derives log-table schemas from base schemas, owns the
// stream generation (stream ids, token -> stream mapping) and turns one base
// write per (partition, timestamp) into the ordered log rows of one change.
//
// The package holds no table data: the engine calls it inside its atomic
// apply and stores the rows it returns, so a change and its log rows become
// visible together.
package cdc
