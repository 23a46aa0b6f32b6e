package miniscylla

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
)

func TestHandshake(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.Addr())

	sup, ok := c.roundTrip(7, &message.Options{}).(*message.Supported)
	if !ok {
		t.Fatal("OPTIONS not answered with SUPPORTED")
	}
	for key, want := range map[string]string{
		"CQL_VERSION":                  "3.3.1",
		"COMPRESSION":                  "lz4",
		"SCYLLA_LWT_ADD_METADATA_MARK": "LWT_OPTIMIZATION_META_BIT_MASK=2147483648",
	} {
		if got := sup.Options[key]; len(got) == 0 || got[0] != want {
			t.Errorf("SUPPORTED %s = %v, want first %q", key, got, want)
		}
	}
	c.startup()
	reg := &message.Register{EventTypes: []primitive.EventType{primitive.EventTypeSchemaChange, primitive.EventTypeTopologyChange}}
	if _, ok := c.roundTrip(2, reg).(*message.Ready); !ok {
		t.Fatal("REGISTER not answered with READY")
	}
	// A heartbeat OPTIONS is answered at any time.
	if _, ok := c.roundTrip(3, &message.Options{}).(*message.Supported); !ok {
		t.Fatal("heartbeat OPTIONS not answered with SUPPORTED")
	}
	// Statements reach the engine and come back on their stream.
	resp := c.roundTrip(4, &message.Query{Query: "SELECT release_version FROM system.local WHERE key='local'"})
	if op := resp.GetOpCode(); op != primitive.OpCodeResult && op != primitive.OpCodeError {
		t.Fatalf("QUERY answered with %v", op)
	}
}

func TestRequestsBeforeStartupAreRejected(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.Addr())
	for _, msg := range []message.Message{
		&message.Query{Query: "SELECT * FROM system.local"},
		&message.Register{EventTypes: []primitive.EventType{primitive.EventTypeSchemaChange}},
	} {
		perr, ok := c.roundTrip(5, msg).(*message.ProtocolError)
		if !ok || !regexp.MustCompile(`expecting STARTUP`).MatchString(perr.ErrorMessage) {
			t.Fatalf("%v before STARTUP answered %v", msg.GetOpCode(), perr)
		}
	}
	c.startup() // the connection is still usable
}

// gocqlVersionRe is the pattern gocql uses to learn the server's highest version.
var gocqlVersionRe = regexp.MustCompile(`the lowest supported version is \d+ and the greatest is (\d+)$`)

func TestProtocolVersionNegotiation(t *testing.T) {
	s := startServer(t)
	for _, v := range []byte{1, 2, 3, 5, 6, 0x41, 0x42} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			c := dial(t, s.Addr())
			// OPTIONS in the header layout of version v, on stream 9.
			req := []byte{v, 0, 0, 9, byte(primitive.OpCodeOptions), 0, 0, 0, 0}
			hdr := 9
			if v <= 2 {
				req = []byte{v, 0, 9, byte(primitive.OpCodeOptions), 0, 0, 0, 0}
				hdr = 8
			}
			c.write(req)
			c.nc.SetReadDeadline(time.Now().Add(testTimeout))
			resp, err := io.ReadAll(c.nc) // the server answers, then closes
			if err != nil {
				t.Fatal(err)
			}
			if len(resp) < hdr+6 {
				t.Fatalf("short response % x", resp)
			}
			if resp[0] != v|0x80 {
				t.Errorf("response version byte 0x%02x, want 0x%02x", resp[0], v|0x80)
			}
			if stream := resp[hdr-6]; stream != 9 || resp[hdr-5] != byte(primitive.OpCodeError) {
				t.Errorf("stream %d opcode 0x%02x, want 9 and ERROR", stream, resp[hdr-5])
			}
			body := resp[hdr:]
			if code := binary.BigEndian.Uint32(body); code != uint32(primitive.ErrorCodeProtocolError) {
				t.Errorf("error code 0x%x, want PROTOCOL_ERROR", code)
			}
			msg := string(body[6:])
			if m := gocqlVersionRe.FindStringSubmatch(msg); m == nil || m[1] != "4" {
				t.Errorf("gocql cannot parse %q", msg)
			}
			if !regexp.MustCompile(`unsupported protocol version`).MatchString(msg) {
				t.Errorf("DataStax drivers cannot recognise %q", msg)
			}
		})
	}
}

func TestCompression(t *testing.T) {
	s := startServer(t)
	for _, name := range []string{"lz4", "snappy"} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, s.Addr())
			c.startup("COMPRESSION", name)
			c.useCompression(name)
			c.send(3, &message.Options{})
			f := c.recv()
			if !f.Header.Flags.Contains(primitive.HeaderFlagCompressed) {
				t.Error("response after STARTUP not compressed")
			}
			if _, ok := f.Body.Message.(*message.Supported); !ok {
				t.Fatalf("compressed OPTIONS answered with %v", f.Body.Message)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		c := dial(t, s.Addr())
		if _, ok := c.roundTrip(1, message.NewStartup("COMPRESSION", "zstd")).(*message.ProtocolError); !ok {
			t.Fatal("unknown compression accepted")
		}
	})
}

func TestCompressorsRoundTrip(t *testing.T) {
	inputs := [][]byte{{}, []byte("x"), make([]byte, 100_000), []byte(fmt.Sprint(time.Now()))}
	for name, newComp := range compressors {
		for _, in := range inputs {
			comp := newComp()
			enc, err := comp.compress([]byte("prefix"), in)
			if err != nil {
				t.Fatalf("%s compress: %v", name, err)
			}
			out, err := comp.decompress(enc[len("prefix"):], len(in))
			if err != nil || string(out) != string(in) {
				t.Fatalf("%s round trip of %d bytes: got %d bytes, err %v", name, len(in), len(out), err)
			}
			if len(in) > 0 {
				if _, err := comp.decompress(enc[len("prefix"):], len(in)-1); err == nil {
					t.Fatalf("%s: body above the limit accepted", name)
				}
			}
		}
	}
}

func TestConcurrentStreams(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.Addr())
	c.startup()
	const n = 500
	for i := range n {
		var msg message.Message = &message.Query{Query: "SELECT key FROM system.local"}
		if i%5 == 0 {
			msg = &message.Options{}
		}
		c.send(int16(i+10), msg)
	}
	seen := make(map[int16]bool)
	for range n {
		f := c.recv()
		id := f.Header.StreamId
		if id < 10 || id >= n+10 || seen[id] {
			t.Fatalf("unexpected or duplicate response stream %d", id)
		}
		seen[id] = true
	}
}

func TestSchemaChangeEvents(t *testing.T) {
	s := startServer(t)
	registered, other := dial(t, s.Addr()), dial(t, s.Addr())
	registered.startup()
	other.startup()
	reg := &message.Register{EventTypes: []primitive.EventType{primitive.EventTypeSchemaChange}}
	if _, ok := registered.roundTrip(2, reg).(*message.Ready); !ok {
		t.Fatal("REGISTER not answered with READY")
	}
	ev := &message.SchemaChangeEvent{ChangeType: primitive.SchemaChangeTypeCreated, Target: primitive.SchemaChangeTargetTable, Keyspace: "ks", Object: "t"}
	s.broadcast(ev)

	f := registered.recv()
	got, ok := f.Body.Message.(*message.SchemaChangeEvent)
	if f.Header.StreamId != -1 || !ok || got.Keyspace != "ks" || got.Object != "t" || got.Target != primitive.SchemaChangeTargetTable {
		t.Fatalf("got stream %d %v, want the schema change on stream -1", f.Header.StreamId, f.Body.Message)
	}
	// The unregistered connection's next frame is the answer to its own request.
	if _, ok := other.roundTrip(3, &message.Options{}).(*message.Supported); !ok {
		t.Fatal("unregistered connection received an event")
	}
}

func TestStartConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Addr: "no-port"},
		{Addr: "127.0.0.1:0", MaxFrameSize: 10},
		{Addr: "127.0.0.1:0", MaxConcurrentRequests: -1},
	} {
		var ce *ConfigError
		if _, err := Start(context.Background(), cfg); !errors.As(err, &ce) {
			t.Errorf("Start(%+v) = %v, want *ConfigError", cfg, err)
		}
	}
	s := startServer(t)
	if _, err := Start(context.Background(), Config{Addr: s.Addr()}); err == nil {
		t.Error("second server on a busy port started")
	}
}

func TestCloseStopsEverything(t *testing.T) {
	base := runtime.NumGoroutine()
	s, err := Start(context.Background(), Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	var clients []*rawClient
	for range 5 {
		c := dial(t, s.Addr())
		c.startup()
		clients = append(clients, c)
	}
	clients[0].write([]byte{4, 0, 0, 1, byte(primitive.OpCodeQuery), 0, 0, 1, 0}) // half a frame: reader blocks in the body
	// clients[1] floods OPTIONS and never reads: the server's writer blocks on
	// a full socket, its queue fills and its reader stops reading.
	flood := bytes.Repeat([]byte{4, 0, 0, 1, byte(primitive.OpCodeOptions), 0, 0, 0, 0}, 1<<16)
	blocked := make(chan error)
	go func() {
		for {
			clients[1].nc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			if _, err := clients[1].nc.Write(flood); err != nil {
				blocked <- err
				return
			}
		}
	}()
	select {
	case err := <-blocked:
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			t.Fatalf("flood write: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the server kept reading a client that never reads its answers")
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	wg.Wait()
	for _, c := range clients {
		c.expectClosed()
	}
	waitGoroutines(t, base)
}
