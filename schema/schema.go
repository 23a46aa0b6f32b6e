// Package schema holds the CQL of the node's tables (orders,
// outbox_messages with CDC, dead_letter_queue, outbox_poll_offsets for
// the polling relay, and in cluster mode the outbox shard tables and their
// leases) as embedded *.cql templates.
// infra/scylla applies Statements at start-up; `outbox-node schema` prints
// them for cqlsh users. Every statement is idempotent (IF NOT EXISTS).
package schema

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/outboxnode/outbox/infra/config"
)

//go:embed *.cql
var files embed.FS

// templates are parsed once; a broken template is a build defect caught by
// the package tests.
var templates = template.Must(template.New("schema").Option("missingkey=error").ParseFS(files, "*.cql"))

type params struct {
	Keyspace         string
	Replication      string
	Tablets          string
	OutboxTTLSeconds int64
	// Shards numbers the outbox shard tables (cluster mode); empty alone.
	Shards []int
}

// Statements renders every schema statement for cfg, in application order
// (keyspace first), without trailing semicolons or comments. It returns
// cfg.Validate's error for settings that cannot be spliced into CQL.
func Statements(cfg config.Scylla) ([]string, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	p := params{
		Keyspace:         cfg.Keyspace,
		Replication:      cfg.Replication.String(),
		Tablets:          cfg.Replication.TabletsOption(),
		OutboxTTLSeconds: int64(cfg.OutboxTTL / time.Second),
	}
	for k := range cfg.OutboxShards {
		p.Shards = append(p.Shards, k)
	}
	names, err := fs.Glob(files, "*.cql")
	if err != nil {
		return nil, fmt.Errorf("schema: list files: %w", err)
	}
	slices.Sort(names)
	var out []string
	for _, name := range names {
		var buf bytes.Buffer
		if err := templates.ExecuteTemplate(&buf, name, p); err != nil {
			return nil, fmt.Errorf("schema: render %s: %w", name, err)
		}
		out = append(out, split(buf.String())...)
	}
	return out, nil
}

// Script renders Statements as one cqlsh script, each statement ending in ";".
func Script(cfg config.Scylla) (string, error) {
	stmts, err := Statements(cfg)
	if err != nil {
		return "", err
	}
	return strings.Join(stmts, ";\n\n") + ";\n", nil
}

// split cuts a rendered file into statements, dropping "--" comment lines.
// The templates contain no ";" inside literals, so a ";" ends a statement.
func split(text string) []string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var stmts []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";") {
		if s = strings.TrimSpace(s); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts
}
