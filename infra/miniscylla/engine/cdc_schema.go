package engine

import (
	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"

	"github.com/outboxnode/outbox/infra/miniscylla/cdc"
)

// cdcPartitioner is what system_schema.scylla_tables reports for CDC log
// tables; gocql routes their queries by it.
const cdcPartitioner = "com.scylladb.dht.CDCPartitioner"

// cdcOptions parses t's cdc option; ok is false when CDC is off.
func cdcOptions(t *Table) (opts cdc.Options, ok bool) {
	if t == nil || t.Options.CDC == nil {
		return cdc.Options{}, false
	}
	opts, err := cdc.ParseOptions(t.Options.CDC)
	return opts, err == nil && opts.Enabled
}

// validateCDCOptions checks a CREATE/ALTER TABLE cdc option before the schema
// changes; ScyllaDB answers bad options with a configuration error.
func validateCDCOptions(t *Table) error {
	if t.Options.CDC == nil {
		return nil
	}
	opts, err := cdc.ParseOptions(t.Options.CDC)
	if err != nil {
		return configf("%v", err)
	}
	if opts.Enabled {
		for _, c := range t.Columns {
			if c.Type.Kind == KindCounter {
				return invalidf("Cannot create CDC log for table %s.%s: CDC is not supported on counter tables", t.Keyspace, t.Name)
			}
		}
	}
	return nil
}

// cdcLogTable derives the `<t>_scylla_cdc_log` schema of base (ScyllaDB's
// create_log_schema): stream id partition key, (cdc$time, cdc$batch_seq_no)
// clustering, the cdc$ metadata, the base key columns as regular columns,
// and per non-key column X its frozen value, cdc$deleted_X and, for
// non-frozen collections and UDTs, cdc$deleted_elements_X.
func cdcLogTable(base *Table) *Table {
	pk := []*Column{{Name: cdc.ColStreamID, Type: Prim(KindBlob)}}
	ck := []*Column{{Name: cdc.ColTime, Type: Prim(KindTimeUUID)}, {Name: cdc.ColBatchSeqNo, Type: Prim(KindInt)}}
	others := []*Column{
		{Name: cdc.ColOperation, Type: Prim(KindTinyint)},
		{Name: cdc.ColTTL, Type: Prim(KindBigint)},
		{Name: cdc.ColEndOfBatch, Type: Prim(KindBoolean)},
	}
	for _, c := range base.Columns[:len(base.PartitionKey)+len(base.Clustering)] {
		others = append(others, &Column{Name: c.Name, Type: c.Type})
	}
	for _, c := range base.nonKeyColumns() {
		others = append(others,
			&Column{Name: c.Name, Type: cdcLogType(c.Type)},
			&Column{Name: cdc.DeletedColumn(c.Name), Type: Prim(KindBoolean)})
		if c.Type.MultiCell() {
			others = append(others, &Column{Name: cdc.DeletedElementsColumn(c.Name), Type: cdcDeletedElementsType(c.Type)})
		}
	}
	opts := TableOptions{
		Comment:     "CDC log for " + base.Keyspace + "." + base.Name,
		Other:       map[string]string{"gc_grace_seconds": "0"},
		Partitioner: cdcPartitioner,
	}
	return newTable(base.Keyspace, cdc.LogTableName(base.Name), pk, ck, others, opts)
}

// cdcLogType is the log type of a base column: frozen, with lists as
// frozen<map<timeuuid, T>> keyed by their cell keys.
func cdcLogType(t *Type) *Type {
	if !t.MultiCell() {
		return t
	}
	if t.Kind == KindList {
		return FrozenOf(MapOf(Prim(KindTimeUUID), t.Elems[0]))
	}
	return FrozenOf(t)
}

// cdcDeletedElementsType is the type of cdc$deleted_elements_X: the removed
// map keys, set elements, list cell keys or UDT field indices.
func cdcDeletedElementsType(t *Type) *Type {
	switch t.Kind {
	case KindList:
		return FrozenOf(SetOf(Prim(KindTimeUUID)))
	case KindUDT:
		return FrozenOf(SetOf(Prim(KindSmallint)))
	}
	return FrozenOf(SetOf(t.Elems[0]))
}

// cdcSyncLog validates base's cdc options and creates or updates its log
// table to match, before base itself is stored (CREATE TABLE, ALTER TABLE).
// Disabling CDC keeps the log, as ScyllaDB does. It returns the schema
// change events of the log table. The caller holds the write lock.
func (e *Engine) cdcSyncLog(k *Keyspace, base *Table) ([]*message.SchemaChangeEvent, error) {
	if err := validateCDCOptions(base); err != nil {
		return nil, err
	}
	if _, ok := cdcOptions(base); !ok {
		return nil, nil
	}
	log := cdcLogTable(base)
	old := k.Tables[log.Name]
	if old != nil && old.Options.Partitioner != cdcPartitioner {
		return nil, invalidf("Cannot create CDC log for table %s.%s because keyspace %s already has a table named %s",
			k.Name, base.Name, k.Name, log.Name)
	}
	if old == nil {
		e.addTable(k, log)
		return change(primitive.SchemaChangeTypeCreated, primitive.SchemaChangeTargetTable, k.Name, log.Name), nil
	}
	// Same key layout, so the stored log rows stay valid.
	log.ID = old.ID
	k.Tables[log.Name] = log
	return change(primitive.SchemaChangeTypeUpdated, primitive.SchemaChangeTargetTable, k.Name, log.Name), nil
}

// cdcDropLog drops base's log table with it (DROP TABLE). The caller holds
// the write lock.
func (e *Engine) cdcDropLog(k *Keyspace, base *Table) []*message.SchemaChangeEvent {
	name := cdc.LogTableName(base.Name)
	if cdc.IsLogTable(base.Name) || k.Tables[name] == nil {
		return nil
	}
	delete(k.Tables, name)
	delete(e.data, k.Name+"."+name)
	return change(primitive.SchemaChangeTypeDropped, primitive.SchemaChangeTargetTable, k.Name, name)
}

// cdcExtensions is the base table's system_schema.tables.extensions map:
// ScyllaDB stores the cdc options there, normalised and complete (so
// scylla-cdc-go finds the log TTL even when CREATE TABLE omitted it).
func cdcExtensions(t *Table) map[string][]byte {
	if t.Options.CDC == nil {
		return map[string][]byte{}
	}
	opts, err := cdc.ParseOptions(t.Options.CDC)
	if err != nil { // validated at CREATE/ALTER; unreachable for stored tables
		return map[string][]byte{}
	}
	return map[string][]byte{cdc.ExtensionKey: opts.Extension()}
}
