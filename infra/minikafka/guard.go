package minikafka

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// guard is what every connection of one broker shares: the frame rules,
// the budget of request bytes buffered across all connections, the I/O
// timeout, and the refusal counters and log.
type guard struct {
	rules      frameRules
	budget     *semaphore.Weighted
	timeout    time.Duration
	mechanisms []string // SASL mechanisms enabled, for handshake answers
	log        *slog.Logger

	refusals map[string]*atomic.Uint64 // by Reason*, fixed at construction
	warn     logLimiter
}

func newGuard(rules frameRules, budget int64, timeout time.Duration, mechanisms []string, log *slog.Logger) *guard {
	g := &guard{rules: rules, budget: semaphore.NewWeighted(budget), timeout: timeout, mechanisms: mechanisms, log: log, refusals: map[string]*atomic.Uint64{}}
	for _, r := range []string{ReasonSize, ReasonTruncated, ReasonKey, ReasonVersion} {
		g.refusals[r] = new(atomic.Uint64)
	}
	return g
}

// refused counts a refused frame and logs it, at most once a second.
func (g *guard) refused(remote net.Addr, fe *FrameError) {
	g.refusals[fe.Reason].Add(1)
	if ok, suppressed := g.warn.allow(time.Now()); ok {
		g.log.Warn("kafka connection closed: request refused before the broker saw it",
			slog.String("remote", remote.String()), slog.String("reason", fe.Reason), slog.String("err", fe.Error()),
			slog.Int("suppressed_since_last", suppressed))
	}
}

// counts returns the refusals so far by reason.
func (g *guard) counts() map[string]uint64 {
	out := make(map[string]uint64, len(g.refusals))
	for r, n := range g.refusals {
		out[r] = n.Load()
	}
	return out
}

// logLimiter lets one line a second through and counts the others.
type logLimiter struct {
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	l.next = now.Add(time.Second)
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

// frameConn is one client connection as kfake sees it: kfake reads a
// 4-byte size and then that many bytes, allocating whatever the size
// claims, and dereferences nil on an unknown api key. frameConn reads each
// frame's header itself, refuses what kfake cannot take (FrameError; the
// read fails and kfake closes the connection), and holds the frame's size
// in the shared budget before kfake learns it, until kfake asks for the
// next frame or the connection closes: one frame per connection at most,
// and a connection over the budget waits, which stops reading its socket.
//
// Read is called by kfake's reader only, one call at a time; Write by its
// writer; Close by either or by the gate.
type frameConn struct {
	net.Conn // the client's socket, TLS-wrapped when the broker serves TLS
	g        *guard
	l        *gateListener

	ctx    context.Context // ends at Close: stops a wait for budget
	cancel context.CancelFunc
	held   atomic.Int64 // budget bytes held for the frame kfake is reading (its size)

	hdr     [headerLen]byte
	pending []byte // validated bytes kfake has not read yet
	body    int64  // bytes of the current frame still on the socket

	patches responsePatches
}

func newFrameConn(c net.Conn, g *guard, l *gateListener) *frameConn {
	fc := &frameConn{Conn: c, g: g, l: l}
	fc.ctx, fc.cancel = context.WithCancel(context.Background())
	return fc
}

func (c *frameConn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 && c.body == 0 {
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	n, err := c.Conn.Read(p[:min(int64(len(p)), c.body)])
	c.body -= int64(n)
	return n, err
}

// next reads and checks the next frame's header. Waiting for its first
// byte has no deadline (an idle client); the rest of the header must
// arrive within the timeout, and so must the body once the budget for it
// is held, so a client cannot hold budget by trickling.
func (c *frameConn) next() error {
	c.release()
	if err := c.Conn.SetReadDeadline(time.Time{}); err != nil {
		return err
	}
	if _, err := io.ReadFull(c.Conn, c.hdr[:1]); err != nil {
		return err
	}
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.g.timeout)); err != nil {
		return err
	}
	if _, err := io.ReadFull(c.Conn, c.hdr[1:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			c.g.refused(c.RemoteAddr(), &FrameError{Reason: ReasonTruncated, Size: -1})
		}
		return err
	}
	h := parseHeader(c.hdr[:])
	v, fe := c.g.rules.check(h)
	if fe != nil {
		c.g.refused(c.RemoteAddr(), fe)
		return fe
	}
	rest := int64(h.size) - (headerLen - 4)
	if v == replaceApiVersions {
		// The client's body (at most one frame) is dropped unread.
		if _, err := io.CopyN(io.Discard, c.Conn, rest); err != nil {
			return err
		}
		c.pending = apiVersionsFrame(h.version, h.corr)
		return nil
	}
	if err := c.acquire(int64(h.size)); err != nil {
		return err
	}
	// The wait for budget does not count against the body's time.
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.g.timeout)); err != nil {
		return err
	}
	if fix := patchFor(h.key, h.version, c.g.mechanisms); fix != nil {
		c.patches.expect(h.corr, fix)
	}
	c.pending, c.body = c.hdr[:], rest
	return nil
}

// acquire holds n budget bytes, waiting while other connections hold the
// rest; it fails once the connection is closed.
func (c *frameConn) acquire(n int64) error {
	if err := c.g.budget.Acquire(c.ctx, n); err != nil {
		return net.ErrClosed
	}
	c.held.Add(n)
	if c.ctx.Err() != nil { // closed meanwhile: Close may have missed these bytes
		c.release()
		return net.ErrClosed
	}
	return nil
}

// release returns the bytes held, once: Swap hands them to one caller.
func (c *frameConn) release() {
	if n := c.held.Swap(0); n > 0 {
		c.g.budget.Release(n)
	}
}

// Write bounds each response write by the timeout, so a client that stops
// reading is dropped instead of keeping its request's budget for ever.
// kfake writes one whole response frame per call; some answers are
// patched on the way (compat.go).
func (c *frameConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.g.timeout)); err != nil {
		return 0, err
	}
	out := c.patches.apply(p)
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close closes the socket, ends a wait for budget, returns the bytes held
// and unregisters the connection from the gate.
func (c *frameConn) Close() error {
	c.cancel()
	c.release()
	c.l.forget(c)
	return c.Conn.Close()
}
