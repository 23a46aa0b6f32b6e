// Package engine is miniscylla's database: it parses CQL, keeps the schema
// catalog, the system tables and the data, and answers the request messages
// (QUERY, PREPARE, EXECUTE, BATCH) that the wire server hands it. It knows
// nothing about sockets or frames; the server in package miniscylla owns those.
package engine

import (
	"context"

	"github.com/datastax/go-cassandra-native-protocol/message"
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
}

// Engine executes CQL requests. It is safe for concurrent use.
type Engine struct {
	cfg Config
}

// New returns an empty engine with its system keyspaces.
func New(cfg Config) (*Engine, error) {
	return &Engine{cfg: cfg}, nil
}

// Handle executes one request (*message.Query, *message.Prepare,
// *message.Execute or *message.Batch) for sess and returns the response:
// a message.Result or a message.Error. It never panics on bad input.
func (e *Engine) Handle(ctx context.Context, sess *Session, req message.Message) message.Message {
	return &message.ServerError{ErrorMessage: "not supported by miniscylla: engine under construction"}
}

// Close releases the engine's resources.
func (e *Engine) Close() error { return nil }
