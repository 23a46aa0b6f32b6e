package main

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/infra/logging"
)

// newLogger logs as devstack does (lower-case levels); config.Validate
// accepted level already, so an unknown value cannot reach it.
func newLogger(w io.Writer, level string) *slog.Logger {
	l, err := logging.ParseLevel(level)
	if err != nil {
		l = slog.LevelInfo
	}
	return logging.New(w, l)
}

// protoactorLogger quiets Proto.Actor: INFO lifecycle chatter is dropped
// (min level warn), and the ERROR lines remote logs whenever a client such
// as outboxctl disconnects are demoted to debug.
func protoactorLogger(base *slog.Logger) func(*actor.ActorSystem) *slog.Logger {
	h := &quietHandler{inner: base.Handler(), min: slog.LevelWarn}
	l := slog.New(h).With("lib", "protoactor")
	return func(*actor.ActorSystem) *slog.Logger { return l }
}

// peerGone are the messages remote logs when a peer went away: normal for
// short-lived clients.
var peerGone = []string{
	"EndpointWriter lost connection",
	"EndpointWriter failed to connect",
	"EndpointReader failed to send disconnection message",
}

type quietHandler struct {
	inner slog.Handler
	min   slog.Level
}

func (h *quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	// Debug stays enabled so demoted records can reach a debug-level inner handler.
	return h.inner.Enabled(ctx, l) && (l >= h.min || l == slog.LevelDebug)
}

func (h *quietHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, p := range peerGone {
		if strings.HasPrefix(r.Message, p) {
			r.Level = slog.LevelDebug
			break
		}
	}
	if r.Level < h.min && r.Level != slog.LevelDebug || !h.inner.Enabled(ctx, r.Level) {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

func (h *quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &quietHandler{inner: h.inner.WithAttrs(attrs), min: h.min}
}

func (h *quietHandler) WithGroup(name string) slog.Handler {
	return &quietHandler{inner: h.inner.WithGroup(name), min: h.min}
}
