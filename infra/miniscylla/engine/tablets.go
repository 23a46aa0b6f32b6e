package engine

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outboxnode/outbox/infra/miniscylla/cdc"
)

// Tablets, as far as miniscylla emulates them: which keyspaces are
// tablets-based, how many tablets a table has, and the per-table CDC stream
// sets that follow them (ScyllaDB 2025.4+). There is no data placement to
// emulate on one node; a table's tablet count only shows in its CDC streams.
//
// Defaults follow ScyllaDB 2025.x as shipped (tablets_mode_for_new_keyspaces:
// enabled): a NetworkTopologyStrategy keyspace without a tablets option uses
// tablets. SimpleStrategy cannot use tablets; ScyllaDB 2025.x then refuses a
// CREATE KEYSPACE without tablets = {'enabled': false}, miniscylla gives it
// vnodes, as a ScyllaDB with tablets disabled by default would.

const (
	// defaultTablets is a table's tablet count when neither the keyspace's
	// initial nor the table's tablet options set it. ScyllaDB sizes it from
	// its shard count; miniscylla has one shard and picks a few tablets, so
	// readers see several streams.
	defaultTablets = 4
	// tabletsLeeway is ScyllaDB's CDC generation leeway: the first stream
	// set of a table is dated this much before its creation, and a write
	// more than this ahead of the server's clock is refused, because a new
	// stream set (after a split or merge) starts this much after the resize.
	tabletsLeeway = 5 * time.Second
)

// tabletHints are the table-level tablets = {...} keys ScyllaDB accepts.
var tabletHints = map[string]bool{
	"min_tablet_count": true, "max_tablet_count": true, "min_per_shard_tablet_count": true,
	"expected_data_size_in_gb": true, "pow2_count": true,
}

// keyspaceTablets validates a keyspace's tablets = {...} option (enabled,
// initial) and resolves the default: it returns the option to store, which
// is non-nil exactly when the keyspace uses tablets, so that ALTER KEYSPACE
// keeps the flavour chosen at creation.
func keyspaceTablets(given map[string]string, replication map[string]string) (map[string]string, error) {
	nts := strings.HasSuffix(replication["class"], ".NetworkTopologyStrategy")
	if given == nil {
		if nts {
			return map[string]string{"enabled": "true"}, nil
		}
		return nil, nil
	}
	for k, v := range given {
		switch k {
		case "enabled":
			if v != "true" && v != "false" {
				return nil, configf("Tablets enabled value must be true or false; found: %s", v)
			}
		case "initial":
			if _, err := strconv.Atoi(v); err != nil {
				return nil, configf("Initial tablets value should be numeric; found %s", v)
			}
		default:
			return nil, configf("Unrecognized tablets option %s", k)
		}
	}
	if given["enabled"] == "false" {
		return nil, nil
	}
	if !nts {
		class := strings.TrimPrefix(replication["class"], "org.apache.cassandra.locator.")
		return nil, configf("%s doesn't support tablet replication", class)
	}
	return given, nil
}

// usesTablets reports whether the keyspace is tablets-based.
func (k *Keyspace) usesTablets() bool { return k.Tablets != nil }

// initialTablets is system_schema.scylla_keyspaces.initial_tablets: the
// tablets option's initial count, 0 for "let the server choose".
func (k *Keyspace) initialTablets() int32 {
	n, _ := strconv.Atoi(k.Tablets["initial"])
	return int32(max(n, 0))
}

// tabletOptions validates a table's tablets = {...} option.
func tabletOptions(m map[string]string) error {
	for k, v := range m {
		if !tabletHints[k] {
			return syntaxf("Unknown tablet hint '%s'", k)
		}
		if k == "pow2_count" {
			if v != "true" {
				return configf("pow2_count cannot be set to false until the arbitrary_tablet_boundaries feature is enabled")
			}
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || (k == "max_tablet_count" && f == 0) {
			return configf("Invalid value '%s' for %s", v, k)
		}
	}
	lo, hi := cdc.TabletCount(atoiOr(m["min_tablet_count"], 1)), atoiOr(m["max_tablet_count"], cdc.MaxTablets)
	if hi < lo {
		return configf("Invalid tablet count range: min_tablet_count=%s and max_tablet_count=%s conflict "+
			"after rounding to powers of 2", m["min_tablet_count"], m["max_tablet_count"])
	}
	return nil
}

// validateTablets checks t's tablet options against its keyspace before a
// CREATE or ALTER TABLE changes anything.
func validateTablets(k *Keyspace, t *Table) error {
	if t.Options.Tablets != nil && !k.usesTablets() {
		return configf("tablet options cannot be used when tablets are disabled for the keyspace")
	}
	return nil
}

// tabletTarget is the tablet count a table of k converges to: its tablet
// options when given (min_tablet_count, min_per_shard_tablet_count on one
// shard, capped by max_tablet_count, rounded to powers of two), else the
// keyspace's initial count, else defaultTablets.
func tabletTarget(k *Keyspace, opts map[string]string) int {
	if opts == nil {
		if n := int(k.initialTablets()); n > 0 {
			return cdc.TabletCount(n)
		}
		return defaultTablets
	}
	perShard, _ := strconv.ParseFloat(opts["min_per_shard_tablet_count"], 64)
	n := cdc.TabletCount(max(atoiOr(opts["min_tablet_count"], 1), int(perShard+0.999999)))
	if hi := atoiOr(opts["max_tablet_count"], 0); hi > 0 {
		for n > hi && n > 1 {
			n /= 2
		}
	}
	return n
}

// tabletStreams keeps the stream sets of the CDC tables of tablets
// keyspaces, keyed by "keyspace.table" of the base table. It lives in
// cdcState and is guarded by the engine's lock.
type tabletStreams struct {
	tables map[string]*cdc.TableStreams
	// unlogged are the sets created by the running schema change, which
	// ddl appends to the write-ahead log after the statement's record.
	unlogged []streamSetRec
}

// streamSetRec is one stream set as the write-ahead log keeps it.
type streamSetRec struct {
	keyspace, table string
	set             *cdc.StreamSet
}

// syncTabletStreams gives a CDC table of a tablets keyspace its stream
// sets, after cdcSyncLog made its log table: the first set when the log is
// new, dated tabletsLeeway before now, and after an ALTER TABLE that moves
// its tablet target, one set per split or merge (tablet counts double or
// halve one step at a time), each starting tabletsLeeway after now and
// after the previous one. During replay the log's own records rebuild the
// sets instead. The caller holds the write lock.
func (e *Engine) syncTabletStreams(k *Keyspace, t *Table) error {
	if !k.usesTablets() || cdc.IsLogTable(t.Name) || k.Tables[cdc.LogTableName(t.Name)] == nil || e.replaying() {
		return nil
	}
	key := k.Name + "." + t.Name
	ts := &e.cdc.tablets
	h := ts.tables[key]
	now := e.cfg.Now()
	if h == nil {
		h = &cdc.TableStreams{}
		ts.tables[key] = h
		return e.addStreamSet(k.Name, t.Name, h, now.Add(-tabletsLeeway), tabletTarget(k, t.Options.Tablets))
	}
	target := tabletTarget(k, t.Options.Tablets)
	for n := h.Current().Tablets(); n != target; {
		if n < target {
			n *= 2
		} else {
			n /= 2
		}
		start := now.Add(tabletsLeeway)
		if next := h.Current().Time.Add(time.Millisecond); start.Before(next) {
			start = next
		}
		if err := e.addStreamSet(k.Name, t.Name, h, start, n); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) addStreamSet(ks, table string, h *cdc.TableStreams, start time.Time, tablets int) error {
	set, err := cdc.NewStreamSet(start, tablets, rand.Uint64())
	if err != nil {
		return configf("%v", err)
	}
	if err := h.Add(set); err != nil {
		return &Error{Code: CodeServer, Msg: err.Error()}
	}
	e.cdc.tablets.unlogged = append(e.cdc.tablets.unlogged, streamSetRec{keyspace: ks, table: table, set: set})
	return nil
}

// dropTabletStreams forgets a dropped table's stream sets (with its log).
func (e *Engine) dropTabletStreams(ks, table string) {
	delete(e.cdc.tablets.tables, ks+"."+table)
}

// replaying reports whether the engine is rebuilding its state from the
// write-ahead log (openDurable has not finished).
func (e *Engine) replaying() bool { return e.cfg.DataDir != "" && e.dur == nil }

// tabletStreamFor picks the stream of a write at micros to partition token
// of a tablets table, as ScyllaDB does: the set operating at the write's
// timestamp. A write too far ahead of the server's clock is refused (a
// split could start a new set before it), as is one older than the table's
// first set.
func (e *Engine) tabletStreamFor(h *cdc.TableStreams, ks, table string, token, micros int64) (cdc.StreamID, error) {
	now := e.cfg.Now()
	if micros > now.Add(tabletsLeeway).UnixMicro() {
		return cdc.StreamID{}, invalidf("cdc: attempted to get a stream \"from the future\" (%s; current server time: %s). "+
			"With CDC you cannot send writes with timestamps arbitrarily into the future, because we don't know what streams "+
			"will be used at that time.", time.UnixMicro(micros).UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
	}
	set, ok := h.At(micros)
	if !ok {
		return cdc.StreamID{}, &Error{Code: CodeServer, Msg: "cdc::metadata::get_stream: could not find any CDC streams for table " +
			ks + "." + table + " for timestamp " + strconv.FormatInt(micros, 10) + "."}
	}
	return set.StreamFor(token), nil
}

// logStreamSetsLocked appends the stream sets the running schema change
// created, after its own record; they join the schema records a checkpoint
// keeps. The caller holds the write lock.
func (e *Engine) logStreamSetsLocked() error {
	recs := e.cdc.tablets.unlogged
	e.cdc.tablets.unlogged = nil
	if e.dur == nil {
		return nil
	}
	for _, r := range recs {
		rec := encodeStreamSet(r.keyspace, r.table, r.set.Time.UnixMilli(), r.set.Tablets(), r.set.Seed)
		if err := e.dur.wal.Append(rec); err != nil {
			return &Error{Code: CodeServer, Msg: "write-ahead log: " + err.Error()}
		}
		e.dur.ddls = append(e.dur.ddls, rec)
		e.dur.schemaSeq = e.dur.wal.Appended()
	}
	return nil
}

// replayStreamSet rebuilds one logged stream set.
func (e *Engine) replayStreamSet(ks, table string, millis int64, tablets int, seed uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	set, err := cdc.NewStreamSet(time.UnixMilli(millis), tablets, seed)
	if err != nil {
		return err
	}
	key := ks + "." + table
	h := e.cdc.tablets.tables[key]
	if h == nil {
		h = &cdc.TableStreams{}
		e.cdc.tablets.tables[key] = h
	}
	return h.Add(set)
}

// cdcTabletTables are the tablets-era stream tables scylla-cdc-go v1.2+
// reads for a table of a tablets keyspace, as ScyllaDB's virtual tables.
func cdcTabletTables() []*Table {
	pk := func() []*Column { return cols(colDef{"keyspace_name", tText}, colDef{"table_name", tText}) }
	timestamps := virtualTable(ksSystem, "cdc_timestamps", pk(), cols(colDef{"timestamp", tTimestamp}), nil,
		(*Engine).cdcTabletTimestampRows)
	timestamps.Clustering[0].Desc = true
	streams := virtualTable(ksSystem, "cdc_streams", pk(),
		cols(colDef{"timestamp", tTimestamp}, colDef{"stream_state", Prim(KindTinyint)}, colDef{"stream_id", tBlob}), nil,
		(*Engine).cdcTabletStreamRows)
	return []*Table{timestamps, streams}
}

func (e *Engine) sortedTabletTables() []string {
	return slices.Sorted(maps.Keys(e.cdc.tablets.tables))
}

func tabletTableKey(key string) map[string][]byte {
	ks, table, _ := strings.Cut(key, ".")
	return map[string][]byte{"keyspace_name": encText(ks), "table_name": encText(table)}
}

func (e *Engine) cdcTabletTimestampRows() []map[string][]byte {
	var rows []map[string][]byte
	for _, key := range e.sortedTabletTables() {
		for _, s := range e.cdc.tablets.tables[key].Sets {
			r := tabletTableKey(key)
			r["timestamp"] = encBigint(s.Time.UnixMilli())
			rows = append(rows, r)
		}
	}
	return rows
}

func (e *Engine) cdcTabletStreamRows() []map[string][]byte {
	var rows []map[string][]byte
	for _, key := range e.sortedTabletTables() {
		h := e.cdc.tablets.tables[key]
		for i, s := range h.Sets {
			closed, opened := h.Diff(i)
			for _, g := range []struct {
				state cdc.StreamState
				ids   []cdc.StreamID
			}{{cdc.StreamCurrent, s.Streams}, {cdc.StreamClosed, closed}, {cdc.StreamOpened, opened}} {
				for _, id := range g.ids {
					r := tabletTableKey(key)
					r["timestamp"] = encBigint(s.Time.UnixMilli())
					r["stream_state"] = []byte{byte(g.state)}
					r["stream_id"] = append([]byte(nil), id[:]...)
					rows = append(rows, r)
				}
			}
		}
	}
	return rows
}
