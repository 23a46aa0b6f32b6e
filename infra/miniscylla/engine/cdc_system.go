package engine

import (
	"github.com/outboxnode/outbox/infra/miniscylla/cdc"
)

// cdcDistributedTables are the vnode-era (ScyllaDB >= 4.4) generation
// tables scylla-cdc-go reads, as virtual tables over the node's single
// generation. The pre-4.4 cdc_streams_descriptions table is deliberately
// absent: its presence would switch the reader to the old format.
func cdcDistributedTables() []*Table {
	timestamps := virtualTable(ksSystemDistributed, "cdc_generation_timestamps",
		cols(colDef{"key", tText}), cols(colDef{"time", tTimestamp}), cols(colDef{"expired", tTimestamp}),
		(*Engine).cdcTimestampRows)
	timestamps.Clustering[0].Desc = true
	streams := virtualTable(ksSystemDistributed, "cdc_streams_descriptions_v2",
		cols(colDef{"time", tTimestamp}), cols(colDef{"range_end", Prim(KindBigint)}),
		cols(colDef{"streams", FrozenOf(SetOf(tBlob))}), (*Engine).cdcStreamRows)
	return []*Table{timestamps, streams}
}

func (e *Engine) cdcTimestampRows() []map[string][]byte {
	gen := e.cdc.log.Generation()
	return []map[string][]byte{{"key": encText("timestamps"), "time": encBigint(gen.Time.UnixMilli())}}
}

func (e *Engine) cdcStreamRows() []map[string][]byte {
	gen := e.cdc.log.Generation()
	rows := make([]map[string][]byte, 0, len(gen.Vnodes))
	for _, v := range gen.Vnodes {
		rows = append(rows, map[string][]byte{
			"time":      encBigint(gen.Time.UnixMilli()),
			"range_end": encBigint(v.End),
			"streams":   cdc.EncodeBlobSet(v.Streams),
		})
	}
	return rows
}

// initCDC creates the node's CDC generation, dated just before the engine
// started, and registers the generation tables. New calls it once.
func (e *Engine) initCDC() error {
	s, err := newCDCState(e.started)
	if err != nil {
		return err
	}
	e.cdc = s
	k := e.keyspaces[ksSystemDistributed]
	for _, t := range cdcDistributedTables() {
		k.Tables[t.Name] = t
	}
	for _, t := range cdcTabletTables() {
		e.keyspaces[ksSystem].Tables[t.Name] = t
	}
	return nil
}
