package miniscylla

import (
	"bytes"
	"context"
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/compression/lz4"
	"github.com/datastax/go-cassandra-native-protocol/compression/snappy"
	"github.com/datastax/go-cassandra-native-protocol/frame"
	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/internal/poll"
)

const testTimeout = 10 * time.Second

// startServer starts a server on a free loopback port, closed at test end.
func startServer(t testing.TB) *Server {
	t.Helper()
	s, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", MaxFrameSize: 1 << 20})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// newSession connects a default gocql session to addr, closed at test end.
// Tests outside this package use miniscyllatest.Connect, which package
// miniscylla's own tests cannot import (it imports miniscylla).
func newSession(t testing.TB, addr string) *gocql.Session {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	cluster := gocql.NewCluster(host)
	cluster.Port, _ = strconv.Atoi(port)
	cluster.Timeout, cluster.ConnectTimeout = testTimeout, testTimeout
	cluster.Consistency = gocql.One
	sess, err := cluster.CreateSession()
	if err != nil {
		t.Fatalf("gocql session: %v", err)
	}
	t.Cleanup(sess.Close)
	return sess
}

// rawClient speaks CQL frames through the codec library, as a driver would.
type rawClient struct {
	t     testing.TB
	nc    net.Conn
	codec frame.Codec
	comp  bool
}

func dial(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, codec: frame.NewCodec()}
}

// useCompression switches the client's codec to name ("lz4" or "snappy").
func (c *rawClient) useCompression(name string) {
	var bc frame.BodyCompressor = lz4.Compressor{}
	if name == "snappy" {
		bc = snappy.Compressor{}
	}
	c.codec = frame.NewCodecWithCompression(bc)
	c.comp = true
}

func (c *rawClient) send(stream int16, msg message.Message) {
	c.t.Helper()
	f := frame.NewFrame(primitive.ProtocolVersion4, stream, msg)
	if c.comp {
		f.Header.Flags = f.Header.Flags.Add(primitive.HeaderFlagCompressed)
	}
	var b bytes.Buffer
	if err := c.codec.EncodeFrame(f, &b); err != nil {
		c.t.Fatalf("encode: %v", err)
	}
	c.write(b.Bytes())
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawClient) recv() *frame.Frame {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(testTimeout))
	f, err := c.codec.DecodeFrame(c.nc)
	if err != nil {
		c.t.Fatalf("decode response: %v", err)
	}
	return f
}

// roundTrip sends msg on stream and returns the response, which must be on the same stream.
func (c *rawClient) roundTrip(stream int16, msg message.Message) message.Message {
	c.t.Helper()
	c.send(stream, msg)
	f := c.recv()
	if f.Header.StreamId != stream {
		c.t.Fatalf("response on stream %d, want %d", f.Header.StreamId, stream)
	}
	return f.Body.Message
}

func (c *rawClient) startup(opts ...string) {
	c.t.Helper()
	if _, ok := c.roundTrip(1, message.NewStartup(opts...)).(*message.Ready); !ok {
		c.t.Fatal("STARTUP not answered with READY")
	}
}

// expectClosed asserts the server closes the connection (after any pending
// frames); a reset counts as closed, a read timeout does not.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(testTimeout))
	_, err := io.Copy(io.Discard, c.nc)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.t.Fatalf("connection not closed by the server: %v", err)
	}
}

// waitGoroutines waits until the goroutine count is back to at most base.
func waitGoroutines(t testing.TB, base int) {
	t.Helper()
	poll.Eventually(t, testTimeout, poll.True("goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= base }))
}
