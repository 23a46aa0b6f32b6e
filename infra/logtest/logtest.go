// Package logtest records what a component logs, for the tests of the
// state-change lines an operator follows (docs/operations.md, "State
// changes in the log").
package logtest

import (
	"context"
	"log/slog"
	"sync"
)

// Line is one recorded log line: its level, message and attributes (the
// logger's own With attributes included), values resolved.
type Line struct {
	Level   slog.Level
	Message string
	Attrs   map[string]slog.Value
}

// Recorder is a slog.Handler that keeps every record at Debug and above.
type Recorder struct {
	mu    *sync.Mutex
	lines *[]Line
	attrs []slog.Attr
}

// New returns an empty recorder and a logger writing to it.
func New() (*Recorder, *slog.Logger) {
	r := &Recorder{mu: &sync.Mutex{}, lines: &[]Line{}}
	return r, slog.New(r)
}

// Lines returns the lines recorded so far, in order.
func (r *Recorder) Lines() []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Line(nil), *r.lines...)
}

// Messages returns the messages of the lines at level or above, in order.
func (r *Recorder) Messages(level slog.Level) []string {
	var msgs []string
	for _, l := range r.Lines() {
		if l.Level >= level {
			msgs = append(msgs, l.Message)
		}
	}
	return msgs
}

// Enabled implements slog.Handler.
func (r *Recorder) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (r *Recorder) Handle(_ context.Context, rec slog.Record) error {
	l := Line{Level: rec.Level, Message: rec.Message, Attrs: map[string]slog.Value{}}
	for _, a := range r.attrs {
		l.Attrs[a.Key] = a.Value.Resolve()
	}
	rec.Attrs(func(a slog.Attr) bool {
		l.Attrs[a.Key] = a.Value.Resolve()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.lines = append(*r.lines, l)
	return nil
}

// WithAttrs implements slog.Handler.
func (r *Recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *r
	c.attrs = append(append([]slog.Attr(nil), r.attrs...), attrs...)
	return &c
}

// WithGroup implements slog.Handler; groups are flattened, which the
// tests of single lines do not need to tell apart.
func (r *Recorder) WithGroup(string) slog.Handler { return r }
