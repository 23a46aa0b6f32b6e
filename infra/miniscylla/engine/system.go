package engine

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// System keyspaces. Their tables are virtual: each read generates the rows
// from the catalog, so they are always consistent with the schema.

const (
	ksSystem            = "system"
	ksSystemSchema      = "system_schema"
	ksSystemDistributed = "system_distributed"
	// releaseVersion is what ScyllaDB reports; drivers pick their schema
	// parser (system_schema, CQL 3) from it.
	releaseVersion = "3.0.8"
	clusterName    = "miniscylla"
	dataCenter     = "datacenter1"
	rackName       = "rack1"
)

var (
	tText      = Prim(KindText)
	tInt       = Prim(KindInt)
	tBool      = Prim(KindBoolean)
	tDouble    = Prim(KindDouble)
	tUUID      = Prim(KindUUID)
	tInet      = Prim(KindInet)
	tTimestamp = Prim(KindTimestamp)
	tBlob      = Prim(KindBlob)
	tTextSet   = FrozenOf(SetOf(tText))
	tTextList  = FrozenOf(ListOf(tText))
	tTextMap   = FrozenOf(MapOf(tText, tText))
	tBlobMap   = FrozenOf(MapOf(tText, tBlob))
)

type colDef struct {
	name string
	t    *Type
}

func cols(defs ...colDef) []*Column {
	out := make([]*Column, len(defs))
	for i, d := range defs {
		out[i] = &Column{Name: d.name, Type: d.t}
	}
	return out
}

func virtualTable(ks, name string, pk, ck, rest []*Column, rows func(*Engine) []map[string][]byte) *Table {
	t := newTable(ks, name, pk, ck, rest, TableOptions{})
	t.ID = uuid.NewSHA1(uuid.NameSpaceOID, []byte(ks+"."+name))
	t.rows = rows
	return t
}

// systemKeyspaces builds the system, system_schema and system_distributed
// keyspaces. system_distributed starts empty: CDC registers its tables there.
func systemKeyspaces() []*Keyspace {
	local := map[string]string{"class": "org.apache.cassandra.locator.LocalStrategy"}
	sys := newKeyspace(ksSystem, local)
	sch := newKeyspace(ksSystemSchema, local)
	dist := newKeyspace(ksSystemDistributed, map[string]string{
		"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "3",
	})
	for _, k := range []*Keyspace{sys, sch, dist} {
		k.system = true
	}
	peerCols := []colDef{
		{"data_center", tText}, {"host_id", tUUID}, {"preferred_ip", tInet}, {"rack", tText},
		{"release_version", tText}, {"rpc_address", tInet}, {"schema_version", tUUID},
		{"supported_features", tText}, {"tokens", tTextSet},
	}
	for _, t := range []*Table{
		virtualTable(ksSystem, "local", cols(colDef{"key", tText}), nil, cols(
			colDef{"bootstrapped", tText}, colDef{"broadcast_address", tInet}, colDef{"cluster_name", tText},
			colDef{"cql_version", tText}, colDef{"data_center", tText}, colDef{"gossip_generation", tInt},
			colDef{"host_id", tUUID}, colDef{"listen_address", tInet}, colDef{"native_protocol_version", tText},
			colDef{"partitioner", tText}, colDef{"rack", tText}, colDef{"release_version", tText},
			colDef{"rpc_address", tInet}, colDef{"schema_version", tUUID}, colDef{"supported_features", tText},
			colDef{"tokens", tTextSet},
		), (*Engine).localRows),
		virtualTable(ksSystem, "peers", cols(colDef{"peer", tInet}), nil, cols(peerCols...), noRows),
	} {
		sys.Tables[t.Name] = t
	}
	for _, t := range schemaTables() {
		sch.Tables[t.Name] = t
	}
	return []*Keyspace{sys, sch, dist, systemTracesKeyspace(), systemAuthKeyspace()}
}

func noRows(*Engine) []map[string][]byte { return nil }

func schemaTables() []*Table {
	ks := colDef{"keyspace_name", tText}
	tableOpts := []colDef{
		{"bloom_filter_fp_chance", tDouble}, {"caching", tTextMap}, {"comment", tText},
		{"compaction", tTextMap}, {"compression", tTextMap}, {"crc_check_chance", tDouble},
		{"dclocal_read_repair_chance", tDouble}, {"default_time_to_live", tInt}, {"extensions", tBlobMap},
		{"gc_grace_seconds", tInt}, {"id", tUUID}, {"max_index_interval", tInt},
		{"memtable_flush_period_in_ms", tInt}, {"min_index_interval", tInt},
		{"read_repair_chance", tDouble}, {"speculative_retry", tText},
	}
	return []*Table{
		virtualTable(ksSystemSchema, "keyspaces", cols(ks), nil,
			cols(colDef{"durable_writes", tBool}, colDef{"replication", tTextMap}), (*Engine).keyspaceRows),
		virtualTable(ksSystemSchema, "tables", cols(ks), cols(colDef{"table_name", tText}),
			cols(append(tableOpts, colDef{"flags", tTextSet})...), (*Engine).tableRows),
		virtualTable(ksSystemSchema, "columns", cols(ks), cols(colDef{"table_name", tText}, colDef{"column_name", tText}),
			cols(colDef{"clustering_order", tText}, colDef{"column_name_bytes", tBlob}, colDef{"kind", tText},
				colDef{"position", tInt}, colDef{"type", tText}), (*Engine).columnRows),
		virtualTable(ksSystemSchema, "dropped_columns", cols(ks), cols(colDef{"table_name", tText}, colDef{"column_name", tText}),
			cols(colDef{"dropped_time", tTimestamp}, colDef{"type", tText}), noRows),
		virtualTable(ksSystemSchema, "types", cols(ks), cols(colDef{"type_name", tText}),
			cols(colDef{"field_names", tTextList}, colDef{"field_types", tTextList}), (*Engine).typeRows),
		virtualTable(ksSystemSchema, "indexes", cols(ks), cols(colDef{"table_name", tText}, colDef{"index_name", tText}),
			cols(colDef{"kind", tText}, colDef{"options", tTextMap}), noRows),
		virtualTable(ksSystemSchema, "views", cols(ks), cols(colDef{"view_name", tText}),
			cols(append(tableOpts, colDef{"base_table_id", tUUID}, colDef{"base_table_name", tText},
				colDef{"include_all_columns", tBool}, colDef{"where_clause", tText})...), noRows),
		virtualTable(ksSystemSchema, "triggers", cols(ks), cols(colDef{"table_name", tText}, colDef{"trigger_name", tText}),
			cols(colDef{"options", tTextMap}), noRows),
		virtualTable(ksSystemSchema, "functions", cols(ks), cols(colDef{"function_name", tText}, colDef{"argument_types", tTextList}),
			cols(colDef{"argument_names", tTextList}, colDef{"body", tText}, colDef{"called_on_null_input", tBool},
				colDef{"language", tText}, colDef{"return_type", tText}), noRows),
		virtualTable(ksSystemSchema, "aggregates", cols(ks), cols(colDef{"aggregate_name", tText}, colDef{"argument_types", tTextList}),
			cols(colDef{"final_func", tText}, colDef{"initcond", tText}, colDef{"return_type", tText},
				colDef{"state_func", tText}, colDef{"state_type", tText}), noRows),
		virtualTable(ksSystemSchema, "scylla_tables", cols(ks), cols(colDef{"table_name", tText}),
			cols(colDef{"cdc", tTextMap}, colDef{"in_memory", tBool}, colDef{"partitioner", tText},
				colDef{"version", tUUID}), (*Engine).scyllaTableRows),
		virtualTable(ksSystemSchema, "scylla_keyspaces", cols(ks), nil,
			cols(colDef{"initial_tablets", tInt}, colDef{"storage_options", tTextMap}, colDef{"storage_type", tText}),
			(*Engine).scyllaKeyspaceRows),
	}
}

// The row generators below run with the engine's read lock held.

func (e *Engine) localRows() []map[string][]byte {
	ip := net.ParseIP(e.cfg.ListenIP) // checked by Config.Validate
	return []map[string][]byte{{
		"key": encText("local"), "bootstrapped": encText("COMPLETED"),
		"broadcast_address": encInet(ip), "cluster_name": encText(clusterName),
		"cql_version": encText("3.3.1"), "data_center": encText(dataCenter),
		"gossip_generation": encInt(int32(e.started.Unix())), "host_id": encUUID(e.hostID),
		"listen_address": encInet(ip), "native_protocol_version": encText("4"),
		"partitioner": encText("org.apache.cassandra.dht.Murmur3Partitioner"),
		"rack":        encText(rackName), "release_version": encText(releaseVersion),
		"rpc_address": encInet(ip), "schema_version": encUUID(e.schemaVersion),
		"tokens": encTextSet("0"),
	}}
}

func (e *Engine) sortedKeyspaces() []*Keyspace {
	out := make([]*Keyspace, 0, len(e.keyspaces))
	for _, k := range e.keyspaces {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *Keyspace) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func sortedTables(k *Keyspace) []*Table {
	out := make([]*Table, 0, len(k.Tables))
	for _, t := range k.Tables {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Table) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (e *Engine) keyspaceRows() []map[string][]byte {
	var rows []map[string][]byte
	for _, k := range e.sortedKeyspaces() {
		rows = append(rows, map[string][]byte{
			"keyspace_name":  encText(k.Name),
			"durable_writes": encBool(k.DurableWrites),
			"replication":    encTextMap(k.Replication),
		})
	}
	return rows
}

func (e *Engine) tableRows() []map[string][]byte {
	var rows []map[string][]byte
	for _, k := range e.sortedKeyspaces() {
		for _, t := range sortedTables(k) {
			rows = append(rows, map[string][]byte{
				"keyspace_name": encText(k.Name), "table_name": encText(t.Name),
				"bloom_filter_fp_chance": t.optDouble("bloom_filter_fp_chance", 0.01),
				"caching":                encTextMap(map[string]string{"keys": "ALL", "rows_per_partition": "ALL"}),
				"comment":                encText(t.Options.Comment),
				"compaction": encTextMap(map[string]string{
					"class": "SizeTieredCompactionStrategy", "max_threshold": "32", "min_threshold": "4",
				}),
				"compression":                 encTextMap(map[string]string{"sstable_compression": "org.apache.cassandra.io.compress.LZ4Compressor"}),
				"crc_check_chance":            t.optDouble("crc_check_chance", 1),
				"dclocal_read_repair_chance":  t.optDouble("dclocal_read_repair_chance", 0),
				"default_time_to_live":        encInt(t.Options.DefaultTTL),
				"extensions":                  encBlobMap(t.extensions()),
				"flags":                       encTextSet("compound"),
				"gc_grace_seconds":            t.optInt("gc_grace_seconds", 864000),
				"id":                          encUUID(t.ID),
				"max_index_interval":          t.optInt("max_index_interval", 2048),
				"memtable_flush_period_in_ms": t.optInt("memtable_flush_period_in_ms", 0),
				"min_index_interval":          t.optInt("min_index_interval", 128),
				"read_repair_chance":          t.optDouble("read_repair_chance", 0),
				"speculative_retry":           encText(t.optText("speculative_retry", "99.0PERCENTILE")),
			})
		}
	}
	return rows
}

func (e *Engine) columnRows() []map[string][]byte {
	var rows []map[string][]byte
	for _, k := range e.sortedKeyspaces() {
		for _, t := range sortedTables(k) {
			for _, c := range t.Columns {
				order := "none"
				if c.Kind == ClusteringKey {
					order = "asc"
					if c.Desc {
						order = "desc"
					}
				}
				rows = append(rows, map[string][]byte{
					"keyspace_name": encText(k.Name), "table_name": encText(t.Name),
					"column_name": encText(c.Name), "clustering_order": encText(order),
					"column_name_bytes": []byte(c.Name), "kind": encText(c.Kind.String()),
					"position": encInt(int32(c.Position)), "type": encText(c.Type.CQL()),
				})
			}
		}
	}
	return rows
}

func (e *Engine) typeRows() []map[string][]byte {
	var rows []map[string][]byte
	for _, k := range e.sortedKeyspaces() {
		for _, name := range k.typeOrder {
			u := k.Types[name]
			types := make([]string, len(u.Elems))
			for i, f := range u.Elems {
				types[i] = f.CQL()
			}
			rows = append(rows, map[string][]byte{
				"keyspace_name": encText(k.Name), "type_name": encText(name),
				"field_names": encTextList(u.Fields...), "field_types": encTextList(types...),
			})
		}
	}
	return rows
}

func (e *Engine) scyllaTableRows() []map[string][]byte {
	var rows []map[string][]byte
	for _, k := range e.sortedKeyspaces() {
		for _, t := range sortedTables(k) {
			r := map[string][]byte{
				"keyspace_name": encText(k.Name), "table_name": encText(t.Name),
				"in_memory": encBool(false), "version": encUUID(t.ID),
			}
			if t.Options.Partitioner != "" {
				r["partitioner"] = encText(t.Options.Partitioner)
			}
			rows = append(rows, r)
		}
	}
	return rows
}

func (e *Engine) scyllaKeyspaceRows() []map[string][]byte {
	var rows []map[string][]byte
	for _, k := range e.sortedKeyspaces() {
		if k.system {
			continue
		}
		// scylla-cdc-go MapScans this row and reads a null initial_tablets
		// as 0, i.e. as tablets: vnode keyspaces have no row, as in ScyllaDB.
		if !k.usesTablets() {
			continue
		}
		r := map[string][]byte{"keyspace_name": encText(k.Name), "storage_type": encText("LOCAL"),
			"initial_tablets": encInt(k.initialTablets())}
		rows = append(rows, r)
	}
	return rows
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}

// optInt, optDouble and optText report a WITH option as given, or ScyllaDB's default.
func (t *Table) optInt(name string, def int) []byte {
	return encInt(int32(atoiOr(t.Options.Other[name], def)))
}

func (t *Table) optDouble(name string, def float64) []byte {
	if f, err := strconv.ParseFloat(t.Options.Other[name], 64); err == nil {
		return encDouble(f)
	}
	return encDouble(def)
}

func (t *Table) optText(name, def string) string {
	if v, ok := t.Options.Other[name]; ok {
		return v
	}
	return def
}
