package engine

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
	"github.com/google/uuid"

	"github.com/outboxnode/outbox/infra/miniscylla/cql"
)

// ddl runs a schema change under the write lock. fn returns the change to
// report, or nil when nothing changed (IF [NOT] EXISTS on a present or
// absent object), which yields a VOID result. Changes bump the schema
// version and are pushed to OnSchemaChange after the lock is released.
func (e *Engine) ddl(fn func() ([]*message.SchemaChangeEvent, bool, error)) (message.Message, error) {
	e.mu.Lock()
	changes, invalidate, err := fn()
	if err == nil && len(changes) > 0 {
		e.schemaVersion = uuid.New()
		err = e.logDDLLocked()
		if err == nil {
			err = e.logStreamSetsLocked()
		}
	}
	e.cdc.tablets.unlogged = nil
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if invalidate {
		// Compiled statements hold table schemas; drop them all so that
		// drivers re-prepare against the new schema.
		e.prepMu.Lock()
		clear(e.prepared)
		e.prepMu.Unlock()
	}
	if len(changes) == 0 {
		return &message.VoidResult{}, nil
	}
	e.notify(changes)
	c := changes[0]
	return &message.SchemaChangeResult{ChangeType: c.ChangeType, Target: c.Target, Keyspace: c.Keyspace, Object: c.Object}, nil
}

func change(typ primitive.SchemaChangeType, target primitive.SchemaChangeTarget, ks, obj string) []*message.SchemaChangeEvent {
	return []*message.SchemaChangeEvent{{ChangeType: typ, Target: target, Keyspace: ks, Object: obj}}
}

func (e *Engine) runDDL(sess *Session, stmt cql.Statement) (message.Message, error) {
	switch s := stmt.(type) {
	case *cql.UseStatement:
		e.mu.RLock()
		_, ok := e.keyspaces[s.Keyspace]
		e.mu.RUnlock()
		if !ok {
			return nil, invalidf("Keyspace '%s' does not exist", s.Keyspace)
		}
		sess.Keyspace = s.Keyspace
		return &message.SetKeyspaceResult{Keyspace: s.Keyspace}, nil
	case *cql.CreateKeyspaceStatement:
		return e.ddl(func() ([]*message.SchemaChangeEvent, bool, error) { return e.createKeyspace(s) })
	case *cql.AlterKeyspaceStatement:
		return e.ddl(func() ([]*message.SchemaChangeEvent, bool, error) { return e.alterKeyspace(s) })
	case *cql.DropKeyspaceStatement:
		return e.ddl(func() ([]*message.SchemaChangeEvent, bool, error) { return e.dropKeyspace(s) })
	case *cql.CreateTableStatement:
		return e.ddl(func() ([]*message.SchemaChangeEvent, bool, error) { return e.createTable(sess, s) })
	case *cql.AlterTableStatement:
		return e.ddl(func() ([]*message.SchemaChangeEvent, bool, error) { return e.alterTable(sess, s) })
	case *cql.DropTableStatement:
		return e.ddl(func() ([]*message.SchemaChangeEvent, bool, error) { return e.dropTable(sess, s) })
	case *cql.CreateTypeStatement:
		return e.ddl(func() ([]*message.SchemaChangeEvent, bool, error) { return e.createType(sess, s) })
	case *cql.DropTypeStatement:
		return e.ddl(func() ([]*message.SchemaChangeEvent, bool, error) { return e.dropType(sess, s) })
	case *cql.TruncateStatement:
		return e.truncate(sess, s)
	}
	return nil, unsupported("statement %T", stmt)
}

// optionValue renders a constant option value as text.
func optionValue(t cql.Term) (string, bool) {
	lit, ok := t.(*cql.Literal)
	if !ok {
		return "", false
	}
	return lit.Text, true
}

// optionMap reads a {'k': 'v'} option; keys are lower-cased.
func optionMap(name string, t cql.Term) (map[string]string, error) {
	m, ok := t.(*cql.MapLiteral)
	if !ok {
		return nil, syntaxf("Invalid value for property '%s': expected a map", name)
	}
	out := make(map[string]string, len(m.Entries))
	for _, en := range m.Entries {
		k, okK := optionValue(en.Key)
		v, okV := optionValue(en.Value)
		if !okK || !okV {
			return nil, syntaxf("Invalid value for property '%s': map entries must be constants", name)
		}
		out[strings.ToLower(k)] = v
	}
	return out, nil
}

// keyspaceOptions applies CREATE (create) or ALTER KEYSPACE options to k.
func keyspaceOptions(k *Keyspace, opts []cql.Option, create bool) error {
	var tablets map[string]string
	for _, o := range opts {
		switch strings.ToLower(o.Name) {
		case "replication":
			m, err := optionMap(o.Name, o.Value)
			if err != nil {
				return err
			}
			repl, err := replication(m)
			if err != nil {
				return err
			}
			k.Replication = repl
		case "durable_writes":
			v, _ := optionValue(o.Value)
			k.DurableWrites = !strings.EqualFold(v, "false")
		case "tablets":
			m, err := optionMap(o.Name, o.Value)
			if err != nil {
				return err
			}
			tablets = m
		default:
			return syntaxf("Unknown property '%s'", o.Name)
		}
	}
	if k.Replication == nil {
		return configf("Missing mandatory replication strategy class")
	}
	if !create && tablets == nil {
		if !k.usesTablets() {
			return nil
		}
		// ALTER keeps the flavour chosen at creation, which the strategy
		// must still support.
		tablets = k.Tablets
	}
	resolved, err := keyspaceTablets(tablets, k.Replication)
	if err != nil {
		return err
	}
	if !create && (resolved != nil) != k.usesTablets() {
		return invalidf("Cannot alter replication strategy vnode/tablets flavor")
	}
	k.Tablets = resolved
	return nil
}

// replication validates a replication map and expands the class name.
func replication(m map[string]string) (map[string]string, error) {
	class, ok := m["class"]
	if !ok {
		return nil, configf("Missing replication strategy class")
	}
	out := maps.Clone(m)
	switch strings.TrimPrefix(class, "org.apache.cassandra.locator.") {
	case "SimpleStrategy":
		if _, err := strconv.Atoi(m["replication_factor"]); err != nil {
			return nil, configf("SimpleStrategy requires a numeric replication_factor")
		}
	case "NetworkTopologyStrategy":
		for k, v := range m {
			if k == "class" {
				continue
			}
			if _, err := strconv.Atoi(v); err != nil {
				return nil, configf("Replication factor must be numeric; found %s", v)
			}
		}
		// ScyllaDB expands the default factor to the (single) data center;
		// gocql's token-aware policy panics on a map without it.
		if rf, ok := out["replication_factor"]; ok {
			delete(out, "replication_factor")
			out[dataCenter] = rf
		}
	case "LocalStrategy", "EverywhereStrategy":
	default:
		return nil, configf("Unable to find replication strategy class '%s'", class)
	}
	out["class"] = "org.apache.cassandra.locator." + strings.TrimPrefix(class, "org.apache.cassandra.locator.")
	return out, nil
}

func (e *Engine) createKeyspace(s *cql.CreateKeyspaceStatement) ([]*message.SchemaChangeEvent, bool, error) {
	if _, ok := e.keyspaces[s.Keyspace]; ok {
		if s.IfNotExists {
			return nil, false, nil
		}
		return nil, false, alreadyExists(s.Keyspace, "")
	}
	k := newKeyspace(s.Keyspace, nil)
	if err := keyspaceOptions(k, s.Options, true); err != nil {
		return nil, false, err
	}
	e.keyspaces[k.Name] = k
	return change(primitive.SchemaChangeTypeCreated, primitive.SchemaChangeTargetKeyspace, k.Name, ""), false, nil
}

func (e *Engine) alterKeyspace(s *cql.AlterKeyspaceStatement) ([]*message.SchemaChangeEvent, bool, error) {
	old, ok := e.keyspaces[s.Keyspace]
	if !ok {
		return nil, false, invalidf("Keyspace '%s' does not exist", s.Keyspace)
	}
	if old.system {
		return nil, false, invalidf("Cannot alter system keyspace %s", s.Keyspace)
	}
	k := *old
	if err := keyspaceOptions(&k, s.Options, false); err != nil {
		return nil, false, err
	}
	e.keyspaces[k.Name] = &k
	return change(primitive.SchemaChangeTypeUpdated, primitive.SchemaChangeTargetKeyspace, k.Name, ""), false, nil
}

func (e *Engine) dropKeyspace(s *cql.DropKeyspaceStatement) ([]*message.SchemaChangeEvent, bool, error) {
	k, ok := e.keyspaces[s.Keyspace]
	if !ok {
		if s.IfExists {
			return nil, false, nil
		}
		return nil, false, configf("Cannot drop non existing keyspace '%s'.", s.Keyspace)
	}
	if k.system {
		return nil, false, invalidf("Cannot drop system keyspace %s", s.Keyspace)
	}
	for name := range k.Tables {
		delete(e.data, k.Name+"."+name)
		e.dropTabletStreams(k.Name, name)
	}
	delete(e.keyspaces, k.Name)
	return change(primitive.SchemaChangeTypeDropped, primitive.SchemaChangeTargetKeyspace, k.Name, ""), true, nil
}

// userKeyspace resolves the keyspace a DDL statement targets.
func (e *Engine) userKeyspace(sess *Session, name string) (*Keyspace, error) {
	if name == "" {
		name = sess.Keyspace
	}
	if name == "" {
		return nil, invalidf("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
	}
	k, ok := e.keyspaces[name]
	if !ok {
		return nil, invalidf("Keyspace '%s' does not exist", name)
	}
	if k.system {
		return nil, invalidf("Cannot modify schema of system keyspace %s", name)
	}
	return k, nil
}

func (e *Engine) udtLookup(ks, name string) (*Type, bool) {
	k, ok := e.keyspaces[ks]
	if !ok {
		return nil, false
	}
	t, ok := k.Types[name]
	return t, ok
}

func (e *Engine) createTable(sess *Session, s *cql.CreateTableStatement) ([]*message.SchemaChangeEvent, bool, error) {
	k, err := e.userKeyspace(sess, s.Table.Keyspace)
	if err != nil {
		return nil, false, err
	}
	if _, ok := k.Tables[s.Table.Name]; ok {
		if s.IfNotExists {
			return nil, false, nil
		}
		return nil, false, alreadyExists(k.Name, s.Table.Name)
	}
	t, err := e.buildTable(k, s)
	if err != nil {
		return nil, false, err
	}
	if err := validateTablets(k, t); err != nil {
		return nil, false, err
	}
	logChanges, err := e.cdcSyncLog(k, t)
	if err != nil {
		return nil, false, err
	}
	if err := e.syncTabletStreams(k, t); err != nil {
		return nil, false, err
	}
	e.addTable(k, t)
	return append(change(primitive.SchemaChangeTypeCreated, primitive.SchemaChangeTargetTable, k.Name, t.Name), logChanges...), false, nil
}

// addTable registers t and its empty storage. The caller holds the write lock.
func (e *Engine) addTable(k *Keyspace, t *Table) {
	k.Tables[t.Name] = t
	e.data[k.Name+"."+t.Name] = newTableData(t.clusteringCompare())
}

func (e *Engine) buildTable(k *Keyspace, s *cql.CreateTableStatement) (*Table, error) {
	if s.CompactStorage {
		return nil, unsupported("COMPACT STORAGE")
	}
	byName := map[string]*Column{}
	var all []*Column
	for _, d := range s.Columns {
		if _, dup := byName[d.Name]; dup {
			return nil, invalidf("Multiple definition of identifier %s", d.Name)
		}
		typ, err := resolveType(k.Name, d.Type, e.udtLookup)
		if err != nil {
			return nil, err
		}
		if typ.Kind == KindCounter {
			return nil, unsupported("counter columns")
		}
		c := &Column{Name: d.Name, Type: typ}
		if d.Static {
			c.Kind = StaticColumn
		}
		byName[d.Name] = c
		all = append(all, c)
	}
	keyCols := func(names []string) ([]*Column, error) {
		out := make([]*Column, len(names))
		for i, n := range names {
			c, ok := byName[n]
			if !ok {
				return nil, invalidf("Unknown definition %s referenced in PRIMARY KEY", n)
			}
			if c.Type.MultiCell() {
				return nil, invalidf("Invalid non-frozen collection type for PRIMARY KEY component %s", n)
			}
			if c.Kind == StaticColumn {
				return nil, invalidf("Static column %s cannot be part of the PRIMARY KEY", n)
			}
			out[i] = c
		}
		return out, nil
	}
	if len(s.PartitionKey) == 0 {
		return nil, invalidf("No PRIMARY KEY specifed for table %s (exactly one required)", s.Table.Name)
	}
	pk, err := keyCols(s.PartitionKey)
	if err != nil {
		return nil, err
	}
	ck, err := keyCols(s.ClusteringKey)
	if err != nil {
		return nil, err
	}
	for i, o := range s.ClusteringOrder {
		if i >= len(ck) || ck[i].Name != o.Column {
			return nil, invalidf("Only clustering key columns can be defined in CLUSTERING ORDER directive, in key order: %s", o.Column)
		}
		ck[i].Desc = o.Descending
	}
	var others []*Column
	for _, c := range all {
		if !slices.Contains(pk, c) && !slices.Contains(ck, c) {
			if c.Kind == StaticColumn && len(ck) == 0 {
				return nil, invalidf("Static columns are only useful (and thus allowed) if the table has at least one clustering column")
			}
			others = append(others, c)
		}
	}
	opts, err := tableOptions(TableOptions{}, s.Options)
	if err != nil {
		return nil, err
	}
	return newTable(k.Name, s.Table.Name, pk, ck, others, opts), nil
}

// knownTableOptions are accepted and reported back but have no effect.
var knownTableOptions = map[string]bool{
	"bloom_filter_fp_chance": true, "caching": true, "compaction": true, "compression": true,
	"crc_check_chance": true, "dclocal_read_repair_chance": true, "gc_grace_seconds": true,
	"max_index_interval": true, "memtable_flush_period_in_ms": true, "min_index_interval": true,
	"read_repair_chance": true, "speculative_retry": true, "paxos_grace_seconds": true,
	"tombstone_gc": true, "synchronous_updates": true, "id": true, "in_memory": true,
}

var cdcKeys = map[string]bool{"enabled": true, "preimage": true, "postimage": true, "delta": true, "ttl": true}

func tableOptions(opts TableOptions, given []cql.Option) (TableOptions, error) {
	opts.Other = maps.Clone(opts.Other)
	for _, o := range given {
		name := strings.ToLower(o.Name)
		switch {
		case name == "default_time_to_live":
			v, _ := optionValue(o.Value)
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxTTL {
				return opts, configf("default_time_to_live must be between 0 and %d, got %s", maxTTL, v)
			}
			opts.DefaultTTL = int32(n)
		case name == "comment":
			opts.Comment, _ = optionValue(o.Value)
		case name == "tablets":
			m, err := optionMap(o.Name, o.Value)
			if err != nil {
				return opts, err
			}
			if err := tabletOptions(m); err != nil {
				return opts, err
			}
			opts.Tablets = m
		case name == "cdc":
			m, err := optionMap(o.Name, o.Value)
			if err != nil {
				return opts, err
			}
			for k := range m {
				if !cdcKeys[k] {
					return opts, configf("Invalid CDC option: %s", k)
				}
			}
			opts.CDC = m
		case knownTableOptions[name]:
			if opts.Other == nil {
				opts.Other = map[string]string{}
			}
			if v, ok := optionValue(o.Value); ok {
				opts.Other[name] = v
			}
		default:
			return opts, syntaxf("Unknown property '%s'", o.Name)
		}
	}
	return opts, nil
}

func (e *Engine) existingTable(sess *Session, name cql.TableName) (*Keyspace, *Table, error) {
	k, err := e.userKeyspace(sess, name.Keyspace)
	if err != nil {
		return nil, nil, err
	}
	return k, k.Tables[name.Name], nil
}

func (e *Engine) alterTable(sess *Session, s *cql.AlterTableStatement) ([]*message.SchemaChangeEvent, bool, error) {
	k, t, err := e.existingTable(sess, s.Table)
	if err != nil {
		return nil, false, err
	}
	if t == nil {
		return nil, false, unconfiguredTable(k.Name, s.Table.Name)
	}
	var nt *Table
	switch s.Kind {
	case cql.AlterTableAdd:
		others := slices.Clone(t.nonKeyColumns())
		for _, d := range s.Add {
			if t.Column(d.Name) != nil {
				return nil, false, invalidf("Invalid column name %s because it conflicts with an existing column", d.Name)
			}
			typ, err := resolveType(k.Name, d.Type, e.udtLookup)
			if err != nil {
				return nil, false, err
			}
			if typ.Kind == KindCounter {
				return nil, false, unsupported("counter columns")
			}
			c := &Column{Name: d.Name, Type: typ}
			if d.Static {
				if len(t.Clustering) == 0 {
					return nil, false, invalidf("Static columns are not allowed in tables without clustering columns")
				}
				c.Kind = StaticColumn
			}
			others = append(others, c)
		}
		nt = t.withColumns(others)
	case cql.AlterTableDrop:
		others := slices.Clone(t.nonKeyColumns())
		for _, name := range s.Drop {
			c := t.Column(name)
			if c == nil {
				return nil, false, invalidf("Column %s was not found in table %s", name, t.Name)
			}
			if c.Kind == PartitionKey || c.Kind == ClusteringKey {
				return nil, false, invalidf("Cannot drop PRIMARY KEY part %s", name)
			}
			others = slices.DeleteFunc(others, func(o *Column) bool { return o.Name == name })
		}
		nt = t.withColumns(others)
	case cql.AlterTableWith:
		opts, err := tableOptions(t.Options, s.Options)
		if err != nil {
			return nil, false, err
		}
		c := *t
		c.Options = opts
		nt = &c
	default:
		return nil, false, unsupported("this ALTER TABLE form")
	}
	if err := validateTablets(k, nt); err != nil {
		return nil, false, err
	}
	logChanges, err := e.cdcSyncLog(k, nt)
	if err != nil {
		return nil, false, err
	}
	if err := e.syncTabletStreams(k, nt); err != nil {
		return nil, false, err
	}
	// Dropped data must not come back if the column is re-added.
	if td := e.data[k.Name+"."+t.Name]; td != nil && s.Kind == cql.AlterTableDrop {
		for _, name := range s.Drop {
			td.dropColumn(name)
		}
	}
	k.Tables[t.Name] = nt
	return append(change(primitive.SchemaChangeTypeUpdated, primitive.SchemaChangeTargetTable, k.Name, t.Name), logChanges...), true, nil
}

func (e *Engine) dropTable(sess *Session, s *cql.DropTableStatement) ([]*message.SchemaChangeEvent, bool, error) {
	k, t, err := e.existingTable(sess, s.Table)
	if err != nil {
		if s.IfExists {
			return nil, false, nil
		}
		return nil, false, err
	}
	if t == nil {
		if s.IfExists {
			return nil, false, nil
		}
		return nil, false, unconfiguredTable(k.Name, s.Table.Name)
	}
	delete(k.Tables, t.Name)
	delete(e.data, k.Name+"."+t.Name)
	e.dropTabletStreams(k.Name, t.Name)
	return append(change(primitive.SchemaChangeTypeDropped, primitive.SchemaChangeTargetTable, k.Name, t.Name), e.cdcDropLog(k, t)...), true, nil
}

func (e *Engine) truncate(sess *Session, s *cql.TruncateStatement) (message.Message, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k, t, err := e.existingTable(sess, s.Table)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, unconfiguredTable(k.Name, s.Table.Name)
	}
	e.data[k.Name+"."+t.Name] = newTableData(t.clusteringCompare())
	if err := e.logDDLLocked(); err != nil {
		return nil, err
	}
	return &message.VoidResult{}, nil
}

func (e *Engine) createType(sess *Session, s *cql.CreateTypeStatement) ([]*message.SchemaChangeEvent, bool, error) {
	k, err := e.userKeyspace(sess, s.Type.Keyspace)
	if err != nil {
		return nil, false, err
	}
	if _, ok := k.Types[s.Type.Name]; ok {
		if s.IfNotExists {
			return nil, false, nil
		}
		return nil, false, &Error{Code: CodeAlreadyExists, Msg: "A user type of name " + k.Name + "." + s.Type.Name + " already exists",
			Keyspace: k.Name, Table: s.Type.Name}
	}
	u := &Type{Kind: KindUDT, Keyspace: k.Name, Name: s.Type.Name}
	for _, f := range s.Fields {
		if slices.Contains(u.Fields, f.Name) {
			return nil, false, invalidf("Duplicate field name %s in type %s", f.Name, s.Type.Name)
		}
		ft, err := resolveType(k.Name, f.Type, e.udtLookup)
		if err != nil {
			return nil, false, err
		}
		if ft.Kind == KindUDT || ft.IsCollection() {
			ft = FrozenOf(ft)
		}
		u.Fields = append(u.Fields, f.Name)
		u.Elems = append(u.Elems, ft)
	}
	k.Types[u.Name] = u
	k.typeOrder = append(k.typeOrder, u.Name)
	return change(primitive.SchemaChangeTypeCreated, primitive.SchemaChangeTargetType, k.Name, u.Name), false, nil
}

func (e *Engine) dropType(sess *Session, s *cql.DropTypeStatement) ([]*message.SchemaChangeEvent, bool, error) {
	k, err := e.userKeyspace(sess, s.Type.Keyspace)
	if err != nil {
		return nil, false, err
	}
	if _, ok := k.Types[s.Type.Name]; !ok {
		if s.IfExists {
			return nil, false, nil
		}
		return nil, false, invalidf("No user type named %s exists.", s.Type.Name)
	}
	for _, t := range k.Tables {
		for _, c := range t.Columns {
			if usesType(c.Type, k.Name, s.Type.Name) {
				return nil, false, invalidf("Cannot drop user type %s.%s as it is still used by table %s", k.Name, s.Type.Name, t.Name)
			}
		}
	}
	delete(k.Types, s.Type.Name)
	k.typeOrder = slices.DeleteFunc(k.typeOrder, func(n string) bool { return n == s.Type.Name })
	return change(primitive.SchemaChangeTypeDropped, primitive.SchemaChangeTargetType, k.Name, s.Type.Name), true, nil
}

func usesType(t *Type, ks, name string) bool {
	if t.Kind == KindUDT && t.Keyspace == ks && t.Name == name {
		return true
	}
	return slices.ContainsFunc(t.Elems, func(e *Type) bool { return usesType(e, ks, name) })
}
