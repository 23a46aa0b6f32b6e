package miniscylla

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"

	"github.com/outboxnode/outbox/infra/miniscylla/engine"
)

// Buffer sizes: frames are read through a 64 KiB reader and responses are
// coalesced up to 64 KiB per socket write; buffers grown past 1 MiB by a
// large frame are dropped after use rather than kept per connection.
const (
	ioBufferSize  = 64 << 10
	keepBufferMax = 1 << 20
)

// job is one statement for a worker.
type job struct {
	stream int16
	msg    message.Message
	trace  bool // the frame asked for tracing
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
	started bool
	dec     compressor
	workers int
	tracing bool // the frame being dispatched has the tracing flag

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

func (c *conn) readLoop() error {
	br := bufio.NewReaderSize(c.nc, ioBufferSize)
	var hb [headerSize]byte
	var body []byte
	maxBody := c.srv.cfg.MaxFrameSize
	for {
		h, err := readHeader(br, &hb, maxBody)
		if err != nil {
			return c.reject(err)
		}
		if body, err = readBody(br, body, int(h.length)); err != nil {
			return err
		}
		msg, err := decodeRequest(h, body, c.dec, maxBody)
		if cap(body) > keepBufferMax {
			body = nil
		}
		if err == nil {
			c.tracing = h.flags.Contains(primitive.HeaderFlagTracing)
			err = c.dispatch(h.stream, msg)
		}
		if err != nil {
			if err := c.reject(err); err != nil {
				return err
			}
		}
	}
}

// reject answers a *frameError with a PROTOCOL_ERROR and returns nil when
// the connection can go on; any other or fatal error is returned.
func (c *conn) reject(err error) error {
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
// to a request goroutine. It blocks while the connection is at its request bound.
func (c *conn) dispatch(stream int16, msg message.Message) error {
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
	if !c.started {
		return nonFatal("unexpected message %v, expecting STARTUP or OPTIONS", msg.GetOpCode())
	}
	switch m := msg.(type) {
	case *message.Register:
		c.register(m)
		c.out <- response{stream: stream, msg: &message.Ready{}}
		return nil
	case *message.Query, *message.Prepare, *message.Execute, *message.Batch:
		return c.submit(job{stream: stream, msg: msg})
	default:
		return nonFatal("unexpected message %v: authentication is not enabled", msg.GetOpCode())
	}
}

// submit hands j to an idle worker, starts a new one below the bound, or
// else waits for a worker to become free.
func (c *conn) submit(j job) error {
	j.trace = c.tracing
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
