package miniscylla

import (
	"bufio"
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"

	"github.com/outboxnode/outbox/infra/miniscylla/engine"
	"github.com/outboxnode/outbox/internal/poll"
)

// stubHandler answers statements with fn, to test the wire layer without the engine.
type stubHandler struct {
	fn     func(sess *engine.Session, req message.Message) message.Message
	closed atomic.Bool
}

func (h *stubHandler) Handle(_ context.Context, sess *engine.Session, req message.Message) message.Message {
	return h.fn(sess, req)
}

// HandleTraced answers like Handle, with a fixed trace session id.
func (h *stubHandler) HandleTraced(_ context.Context, sess *engine.Session, req message.Message, _ net.IP) (message.Message, []byte) {
	return h.fn(sess, req), []byte("stub-trace-id-16")
}

func (h *stubHandler) Close() error {
	h.closed.Store(true)
	return nil
}

// startStub starts a server whose statements are answered by fn.
func startStub(t testing.TB, fn func(*engine.Session, message.Message) message.Message) (*Server, *stubHandler) {
	t.Helper()
	h := &stubHandler{fn: fn}
	s, err := start(context.Background(), Config{Addr: "127.0.0.1:0"}, func(engine.Config) (handler, error) {
		return h, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, h
}

func query(s string) *message.Query { return &message.Query{Query: s} }

func TestHandlerFailuresBecomeServerErrors(t *testing.T) {
	s, h := startStub(t, func(_ *engine.Session, req message.Message) message.Message {
		switch req.(*message.Query).Query {
		case "panic":
			panic("boom")
		case "nil":
			return nil
		default:
			return &message.VoidResult{}
		}
	})
	c := dial(t, s.Addr())
	c.startup()
	for _, q := range []string{"panic", "nil"} {
		if _, ok := c.roundTrip(2, query(q)).(*message.ServerError); !ok {
			t.Fatalf("%s: not answered with SERVER_ERROR", q)
		}
	}
	if _, ok := c.roundTrip(3, query("ok")).(*message.VoidResult); !ok {
		t.Fatal("connection unusable after a handler failure")
	}
	if err := s.Close(); err != nil || !h.closed.Load() {
		t.Fatalf("Close = %v, handler closed %v", err, h.closed.Load())
	}
}

func TestUseKeyspaceIsPerConnection(t *testing.T) {
	s, _ := startStub(t, func(sess *engine.Session, req message.Message) message.Message {
		q := req.(*message.Query).Query
		if q == "whoami" {
			return &message.Invalid{ErrorMessage: "keyspace=" + sess.Keyspace}
		}
		sess.Keyspace = q
		if q == "ks1" {
			return &message.SetKeyspaceResult{Keyspace: q}
		}
		return &message.VoidResult{} // a keyspace change without SET_KEYSPACE is not kept
	})
	a, b := dial(t, s.Addr()), dial(t, s.Addr())
	a.startup()
	b.startup()
	a.roundTrip(2, query("ks1"))
	a.roundTrip(3, query("other"))
	whoami := func(c *rawClient) string {
		resp, ok := c.roundTrip(4, query("whoami")).(*message.Invalid)
		if !ok {
			t.Fatal("whoami not answered")
		}
		return strings.TrimPrefix(resp.ErrorMessage, "keyspace=")
	}
	if got := whoami(a); got != "ks1" {
		t.Errorf("connection a keyspace %q, want ks1", got)
	}
	if got := whoami(b); got != "" {
		t.Errorf("connection b keyspace %q, want none", got)
	}
}

// muxClient runs concurrent requests over one connection, one stream each.
type muxClient struct {
	*rawClient
	wmu     sync.Mutex
	mu      sync.Mutex
	waiters map[int16]chan message.Message
}

func newMux(t testing.TB, addr string) *muxClient {
	m := &muxClient{rawClient: dial(t, addr), waiters: make(map[int16]chan message.Message)}
	m.startup()
	go func() {
		br := bufio.NewReader(m.nc)
		for {
			f, err := m.codec.DecodeFrame(br)
			if err != nil {
				return
			}
			m.mu.Lock()
			ch := m.waiters[f.Header.StreamId]
			m.mu.Unlock()
			if ch != nil {
				ch <- f.Body.Message
			}
		}
	}()
	return m
}

func (m *muxClient) do(stream int16, msg message.Message) message.Message {
	ch := make(chan message.Message, 1)
	m.mu.Lock()
	m.waiters[stream] = ch
	m.mu.Unlock()
	m.wmu.Lock()
	m.send(stream, msg)
	m.wmu.Unlock()
	return <-ch
}

// BenchmarkWireRoundTrip measures the wire layer alone: 32 concurrent
// requests over one connection, answered by a stub without work.
func BenchmarkWireRoundTrip(b *testing.B) {
	s, _ := startStub(b, func(*engine.Session, message.Message) message.Message { return &message.VoidResult{} })
	m := newMux(b, s.Addr())
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := range 32 {
		wg.Go(func() {
			stream := int16(g + 10)
			req := &message.Query{Query: "INSERT INTO ks.t (k, v) VALUES (?, ?)", Options: &message.QueryOptions{
				Consistency:      primitive.ConsistencyLevelOne,
				PositionalValues: []*primitive.Value{primitive.NewValue([]byte{0, 0, 0, 1}), primitive.NewValue([]byte("value"))},
			}}
			for next.Add(1) <= int64(b.N) {
				if _, ok := m.do(stream, req).(*message.VoidResult); !ok {
					b.Error("unexpected response")
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

func TestConcurrentRequestsAreBounded(t *testing.T) {
	const limit, requests = 4, 12
	var running, peak atomic.Int32
	release := make(chan struct{})
	h := &stubHandler{fn: func(*engine.Session, message.Message) message.Message {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		running.Add(-1)
		return &message.VoidResult{}
	}}
	s, err := start(context.Background(), Config{Addr: "127.0.0.1:0", MaxConcurrentRequests: limit},
		func(engine.Config) (handler, error) { return h, nil })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := dial(t, s.Addr())
	c.startup()
	for i := range limit {
		c.send(int16(10+i), query("q"))
	}
	poll.Eventually(t, testTimeout, poll.True("the workers to fill up", func() bool { return running.Load() == limit }))
	// OPTIONS is answered by the reader even while every worker is busy.
	if _, ok := c.roundTrip(99, &message.Options{}).(*message.Supported); !ok {
		t.Fatal("heartbeat not answered while workers are busy")
	}
	// Beyond the bound the reader waits for a free worker.
	for i := limit; i < requests; i++ {
		c.send(int16(10+i), query("q"))
	}
	close(release)
	for range requests {
		if _, ok := c.recv().Body.Message.(*message.VoidResult); !ok {
			t.Fatal("request not answered")
		}
	}
	if p := peak.Load(); p != limit {
		t.Fatalf("peak concurrency %d, want %d", p, limit)
	}
}
