package miniscylla

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"

	"github.com/outboxnode/outbox/infra/miniscylla/engine"
)

// Buffer sizes: frames are read through a 64 KiB reader and responses are
// coalesced up to 64 KiB per socket write; buffers grown past 64 KiB by a
// large frame are dropped after use rather than kept, so that an idle
// connection holds about 200 KiB at most (reader, body and write buffers)
// whatever it sent before: only MaxInFlightBytes bounds the rest.
const (
	ioBufferSize  = 64 << 10
	keepBufferMax = 64 << 10
)

// job is one request with the bytes it holds of the server's budget,
// released once it has been answered.
type job struct {
	stream   int16
	msg      message.Message
	reserved int64
	trace    bool // the frame asked for tracing
}

// conn serves one client connection: a reader goroutine decodes frames and
// dispatches them, statements run concurrently on up to
// Config.MaxConcurrentRequests worker goroutines, and one writer goroutine
// serialises the responses and pushed events onto the socket. Workers live
// as long as the connection: a goroutine per request would grow a fresh
// stack for every statement, which cost about 8% of CPU in BenchmarkPreparedInsert.
type conn struct {
	srv *Server
	nc  net.Conn
	log *slog.Logger

	// ctx is cancelled when the connection ends; requests run under it.
	ctx      context.Context
	cancel   context.CancelFunc
	out      chan response
	jobs     chan job
	handlers sync.WaitGroup

	// Owned by the reader goroutine.
	started bool // STARTUP answered
	ready   bool // STARTUP answered and, with authentication, logged in
	dec     compressor
	workers int
	// handshakeDeadline is when a connection that is not ready yet is
	// closed; zero once ready.
	handshakeDeadline time.Time

	sessMu sync.Mutex
	sess   engine.Session

	evMu     sync.Mutex
	evWanted bool // REGISTERed for SCHEMA_CHANGE
	evClosed bool
	events   []message.Message
	evSig    chan struct{}
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		srv:   s,
		nc:    nc,
		log:   s.log.With("remote", nc.RemoteAddr().String()),
		out:   make(chan response, s.cfg.MaxConcurrentRequests+1),
		jobs:  make(chan job),
		evSig: make(chan struct{}, 1),
	}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	return c
}

// serve runs the connection until the client leaves, breaks the protocol or
// the server closes; it returns once every goroutine of the connection ended.
func (c *conn) serve() {
	c.handshakeDeadline = time.Now().Add(c.srv.cfg.HandshakeTimeout)
	if err := c.tlsHandshake(); err != nil {
		c.log.Debug("miniscylla TLS handshake failed", "err", err)
		c.cancel()
		c.nc.Close()
		return
	}
	c.nc.SetReadDeadline(c.handshakeDeadline)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	if err := c.readLoop(); err != nil && !isDisconnect(err) {
		c.log.Debug("miniscylla connection closed", "err", err)
	}
	c.cancel()
	close(c.jobs)
	c.handlers.Wait()
	close(c.out)
	<-writerDone
	c.nc.Close()
}

// tlsHandshake completes the TLS handshake, if the port speaks TLS, within
// the handshake deadline.
func (c *conn) tlsHandshake() error {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithDeadline(c.ctx, c.handshakeDeadline)
	defer cancel()
	return tc.HandshakeContext(ctx)
}

func (c *conn) readLoop() error {
	br := bufio.NewReaderSize(c.nc, ioBufferSize)
	var hb [headerSize]byte
	var body []byte
	for {
		h, err := c.readHeader(br, &hb)
		if err != nil {
			return c.reject(err)
		}
		// Reserve before reading: while the budget is exhausted this
		// connection is not read, which is its back-pressure.
		reserved := int64(h.length)
		if err := c.srv.budget.acquire(c.ctx, reserved); err != nil {
			return err
		}
		if body, err = c.readBody(br, body, int(h.length)); err != nil {
			c.srv.budget.release(reserved)
			return err
		}
		msg, extra, err := c.decode(h, body)
		reserved += extra
		if cap(body) > keepBufferMax {
			body = nil
		}
		if err == nil {
			err = c.dispatch(job{stream: h.stream, msg: msg, reserved: reserved, trace: h.flags.Contains(primitive.HeaderFlagTracing)})
		} else {
			c.srv.budget.release(reserved)
		}
		if err != nil {
			if err := c.reject(err); err != nil {
				return err
			}
		}
	}
}

// readHeader waits for the next frame as long as the connection may idle
// (until the handshake deadline before it is ready, forever after), then
// gives the rest of the header FrameTimeout from its first byte.
func (c *conn) readHeader(br *bufio.Reader, hb *[headerSize]byte) (header, error) {
	if _, err := br.Peek(1); err != nil {
		return header{}, err
	}
	if br.Buffered() >= headerSize {
		return readHeader(br, hb, c.frameLimit())
	}
	c.nc.SetReadDeadline(c.frameDeadline())
	h, err := readHeader(br, hb, c.frameLimit())
	if err == nil {
		c.nc.SetReadDeadline(c.handshakeDeadline)
	}
	return h, err
}

// frameDeadline is when the frame being read must be complete: FrameTimeout
// from now, or the handshake deadline if that comes first.
func (c *conn) frameDeadline() time.Time {
	deadline := time.Now().Add(c.srv.cfg.FrameTimeout)
	if !c.handshakeDeadline.IsZero() && c.handshakeDeadline.Before(deadline) {
		return c.handshakeDeadline
	}
	return deadline
}

// frameLimit is the largest body the connection may send now.
func (c *conn) frameLimit() int {
	if !c.ready {
		return min(handshakeFrameMax, c.srv.cfg.frameLimit())
	}
	return c.srv.cfg.frameLimit()
}

// readBody reads an n-byte body within Config.FrameTimeout (and the
// handshake deadline, before the connection is ready). A body already
// buffered needs no deadline.
func (c *conn) readBody(br *bufio.Reader, buf []byte, n int) ([]byte, error) {
	if br.Buffered() >= n {
		return readBody(br, buf, n)
	}
	c.nc.SetReadDeadline(c.frameDeadline())
	buf, err := readBody(br, buf, n)
	if err != nil {
		return buf, fmt.Errorf("read %d-byte frame body: %w", n, err)
	}
	c.nc.SetReadDeadline(c.handshakeDeadline)
	return buf, nil
}

// decode decodes a body read whole. A compressed body also reserves the
// size it declares once decompressed, returned as extra (also on error:
// the caller releases it); when that does not fit within FrameTimeout the
// request is answered OVERLOADED and the connection goes on.
func (c *conn) decode(h header, body []byte) (msg message.Message, extra int64, err error) {
	maxBody := c.srv.cfg.frameLimit()
	if h.flags.Contains(primitive.HeaderFlagCompressed) && c.dec != nil {
		if n, ok := c.dec.declaredLen(body); ok && n <= maxBody {
			ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.FrameTimeout)
			err := c.srv.budget.acquire(ctx, int64(n))
			cancel()
			if err != nil {
				if c.ctx.Err() != nil {
					return nil, 0, err
				}
				c.out <- response{stream: h.stream, msg: &message.Overloaded{ErrorMessage: fmt.Sprintf(
					"server memory budget exhausted: no room for a %d-byte decompressed request within %s", n, c.srv.cfg.FrameTimeout)}}
				return nil, 0, errAnswered
			}
			extra = int64(n)
		}
	}
	msg, err = decodeRequest(h, body, c.dec, maxBody)
	return msg, extra, err
}

// errAnswered reports a request that was already answered with an error.
var errAnswered = errors.New("request answered with an error")

// reject answers a *frameError with a PROTOCOL_ERROR and returns nil when
// the connection can go on; any other or fatal error is returned.
func (c *conn) reject(err error) error {
	if errors.Is(err, errAnswered) {
		return nil
	}
	var fe *frameError
	if !errors.As(err, &fe) {
		return err
	}
	if fe.Version == wireVersion {
		c.out <- response{stream: fe.Stream, msg: &message.ProtocolError{ErrorMessage: fe.Msg}}
	} else {
		c.out <- response{raw: protocolErrorFrame(fe.Version, fe.Stream, fe.Msg)}
	}
	if fe.Fatal {
		return err
	}
	return nil
}

// dispatch answers connection-level messages itself and hands statements
// to a request goroutine. It blocks while the connection is at its request
// bound. It owns j's reservation: a statement's is released by its worker,
// any other's on return.
func (c *conn) dispatch(j job) error {
	stream, msg := j.stream, j.msg
	if !c.ready || !isStatement(msg) {
		defer c.srv.budget.release(j.reserved)
	}
	nonFatal := func(format string, args ...any) error {
		return &frameError{Version: wireVersion, Stream: stream, Msg: fmt.Sprintf(format, args...)}
	}
	switch m := msg.(type) {
	case *message.Options:
		c.out <- response{stream: stream, msg: supported}
		return nil
	case *message.Startup:
		return c.startup(stream, m)
	}
	switch {
	case !c.started:
		return nonFatal("unexpected message %v, expecting STARTUP or OPTIONS", msg.GetOpCode())
	case !c.ready:
		if m, ok := msg.(*message.AuthResponse); ok {
			c.authenticate(stream, m)
			return nil
		}
		return nonFatal("unexpected message %v, expecting AUTH_RESPONSE: authentication is required", msg.GetOpCode())
	}
	switch m := msg.(type) {
	case *message.Register:
		c.register(m)
		c.out <- response{stream: stream, msg: &message.Ready{}}
		return nil
	case *message.Query, *message.Prepare, *message.Execute, *message.Batch:
		if err := c.submit(j); err != nil {
			c.srv.budget.release(j.reserved)
			return err
		}
		return nil
	case *message.AuthResponse:
		if c.srv.auth != nil {
			return nonFatal("unexpected message %v: the connection is already authenticated", msg.GetOpCode())
		}
		return nonFatal("unexpected message %v: authentication is not enabled", msg.GetOpCode())
	default:
		return nonFatal("unexpected message %v", msg.GetOpCode())
	}
}

// isStatement reports the requests that run on a worker.
func isStatement(msg message.Message) bool {
	switch msg.(type) {
	case *message.Query, *message.Prepare, *message.Execute, *message.Batch:
		return true
	}
	return false
}

// submit hands j to an idle worker, starts a new one below the bound, or
// else waits for a worker to become free.
func (c *conn) submit(j job) error {
	select {
	case c.jobs <- j:
		return nil
	default:
	}
	if c.workers < c.srv.cfg.MaxConcurrentRequests {
		c.workers++
		c.handlers.Add(1)
		go c.work(j)
		return nil
	}
	select {
	case c.jobs <- j:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

// work runs first, then every job it receives until the connection ends.
func (c *conn) work(first job) {
	defer c.handlers.Done()
	c.execute(first)
	for j := range c.jobs {
		c.execute(j)
	}
}

// execute runs one statement on the engine. The engine gets a copy of the
// session so concurrent requests never share it; a USE (answered with
// SET_KEYSPACE) publishes its copy back for later requests.
func (c *conn) execute(j job) {
	c.sessMu.Lock()
	sess := c.sess
	c.sessMu.Unlock()
	resp, traceID := c.handle(&sess, j)
	c.srv.budget.release(j.reserved)
	if _, ok := resp.(*message.SetKeyspaceResult); ok {
		c.sessMu.Lock()
		c.sess = sess
		c.sessMu.Unlock()
	}
	c.out <- response{stream: j.stream, msg: resp, traceID: traceID}
}

// handle calls the engine, turning a panic or a missing answer into SERVER_ERROR
// so that one bad statement cannot take the process down. A traced request
// also gets its trace session id for the response frame.
func (c *conn) handle(sess *engine.Session, j job) (resp message.Message, traceID []byte) {
	msg := j.msg
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("miniscylla engine panic", "op", msg.GetOpCode().String(), "panic", p)
			resp = &message.ServerError{ErrorMessage: fmt.Sprintf("internal error: %v", p)}
		}
	}()
	if j.trace {
		var client net.IP
		if a, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
			client = a.IP
		}
		resp, traceID = c.srv.eng.HandleTraced(c.ctx, sess, msg, client)
	} else {
		resp = c.srv.eng.Handle(c.ctx, sess, msg)
	}
	if resp == nil {
		resp = &message.ServerError{ErrorMessage: "internal error: no response"}
	}
	return resp, traceID
}

// isDisconnect reports errors that just mean the peer or the server closed the socket.
func isDisconnect(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
