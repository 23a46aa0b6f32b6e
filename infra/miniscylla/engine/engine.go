// Package engine is miniscylla's database: it parses CQL, keeps the schema
// catalog, the system tables and the data, and answers the request messages
// (QUERY, PREPARE, EXECUTE, BATCH) that the wire server hands it. It knows
// nothing about sockets or frames; the server in package miniscylla owns those.
//
// Data path: request -> cql.ParseQuery -> compiled statement (cached for
// PREPARE) -> []Mutation -> Engine.apply (one atomic step under the write
// lock) for writes, or a scan of the stored partitions for reads.
//
// Every write, batches and LWTs included, reaches storage through
// applyLocked: it resolves all tables, checks the mutations, lets CDC derive
// its log mutations from the pre-image, applies, then appends the whole step
// to the write-ahead log when Config.DataDir is set (durable.go). LWTs are
// serialised per partition, not engine-wide (lwt.go).
//
// Files: types.go, values.go, literal.go, encode.go (values); catalog.go,
// ddl.go, system.go (schema); mutation.go, storage.go,
// compact.go (data); term.go, where.go, write.go, cond.go, select.go,
// aggregate.go, groupby.go, json.go, paging.go, rowview.go (execution);
// exec.go (requests, prepared cache, apply); lwt.go (conditional writes); trace.go, system_traces.go
// (request tracing); cdc*.go (CDC log tables); tablets.go (tablets
// keyspaces, per-table CDC stream sets); durable*.go
// (write-ahead log records, replay at start-up).
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/google/uuid"

	"github.com/outboxnode/outbox/infra/miniscylla/wal"
)

// Session is the per-connection state a request runs in. The server creates
// one per connection and never shares it between connections.
type Session struct {
	// Keyspace is the keyspace set by USE; empty until then.
	Keyspace string
}

// Config configures an Engine.
type Config struct {
	// ListenIP is the address reported as rpc_address in system.local.
	ListenIP string
	// OnSchemaChange is called, outside any engine lock, for every schema
	// change (including tables the engine creates itself, such as CDC logs),
	// so the server can push SCHEMA_CHANGE events to registered connections.
	OnSchemaChange func(*message.SchemaChangeEvent)
	// Logger receives internal errors; defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock (defaults to time.Now); tests may replace it.
	Now func() time.Time
	// DataDir, when set, holds the write-ahead log the engine replays at
	// start-up and appends every change to (durable.go); empty keeps
	// everything in memory only.
	DataDir string
	// WALRecovery is what opening the log in DataDir does with damage
	// before intact records: refuse (wal.RecoveryStrict, the default) or
	// drop the damaged bytes and keep the rest (wal.RecoverySalvage).
	WALRecovery wal.Recovery
}

// DefaultListenIP is the default of Config.ListenIP.
const DefaultListenIP = "127.0.0.1"

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	if c.ListenIP == "" {
		c.ListenIP = DefaultListenIP
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports an invalid field.
func (c Config) Validate() error {
	if net.ParseIP(c.ListenIP) == nil {
		return fmt.Errorf("engine config: ListenIP %q is not an IP address", c.ListenIP)
	}
	return nil
}

// Engine executes CQL requests. It is safe for concurrent use.
type Engine struct {
	cfg     Config
	hostID  uuid.UUID
	started time.Time

	// mu guards the catalog and all table data. Writes (DDL and mutations)
	// hold it exclusively for the short apply step; reads share it.
	mu            sync.RWMutex
	keyspaces     map[string]*Keyspace
	data          map[string]*tableData // by "keyspace.table"
	schemaVersion uuid.UUID
	applied       int   // mutations applied since the last compaction
	lastCompact   int64 // Unix ns
	// lastStamp is the last write timestamp (µs) the server chose at apply
	// time (stampLocked); the next one is later.
	lastStamp int64

	// listClock hands out list element times (100 ns since 1582).
	listClock atomic.Int64

	prepMu   sync.RWMutex
	prepared map[[16]byte]*compiled

	// cdc is the CDC generation and log writer (cdc.go).
	cdc *cdcState

	// dur is the write-ahead log (durable.go); nil when memory-only.
	dur *durable

	// traces holds the traced requests system_traces shows (trace.go).
	traces traceStore

	// faults are the tables whose writes fail (fault.go); guarded by mu.
	faults faults

	// lwtLocks serialises the LWTs of each partition (lwt.go).
	lwtLocks partitionLocks
}

// New returns an engine with its system keyspaces and, with
// Config.DataDir, the state its write-ahead log holds.
func New(cfg Config) (*Engine, error) {
	e, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	if err := e.openDurable(); err != nil {
		return nil, err
	}
	return e, nil
}

// newEngine returns an empty engine with its system keyspaces and no log.
func newEngine(cfg Config) (*Engine, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:           cfg,
		hostID:        uuid.New(),
		started:       cfg.Now(),
		keyspaces:     map[string]*Keyspace{},
		data:          map[string]*tableData{},
		schemaVersion: uuid.New(),
		prepared:      map[[16]byte]*compiled{},
	}
	for _, k := range systemKeyspaces() {
		e.keyspaces[k.Name] = k
	}
	if err := e.initCDC(); err != nil {
		return nil, err
	}
	return e, nil
}

// Handle executes one request (*message.Query, *message.Prepare,
// *message.Execute or *message.Batch) for sess and returns the response:
// a message.Result or a message.Error. It never panics on bad input.
func (e *Engine) Handle(ctx context.Context, sess *Session, req message.Message) (resp message.Message) {
	defer func() {
		if r := recover(); r != nil {
			e.cfg.Logger.Error("engine panic", "request", fmt.Sprint(req), "panic", r, "stack", string(debug.Stack()))
			resp = &message.ServerError{ErrorMessage: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	var (
		res message.Message
		err error
	)
	switch m := req.(type) {
	case *message.Query:
		res, err = e.query(ctx, sess, m)
	case *message.Prepare:
		res, err = e.prepare(sess, m.Query)
	case *message.Execute:
		res, err = e.execute(ctx, sess, m)
	case *message.Batch:
		res, err = e.batch(ctx, sess, m)
	default:
		err = &Error{Code: CodeServer, Msg: fmt.Sprintf("unexpected request %T", req)}
	}
	if err != nil {
		return toMessage(err)
	}
	return res
}

// Close releases the engine's resources: it flushes and closes the
// write-ahead log, if any.
func (e *Engine) Close() error { return e.closeDurable() }

func (e *Engine) nowNanos() int64 { return e.cfg.Now().UnixNano() }

// notify reports schema changes to the server, outside any lock.
func (e *Engine) notify(changes []*message.SchemaChangeEvent) {
	if e.cfg.OnSchemaChange == nil {
		return
	}
	for _, c := range changes {
		e.cfg.OnSchemaChange(c)
	}
}
