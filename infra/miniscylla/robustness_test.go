package miniscylla

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
)

// rawFrame builds a v4 request frame with an arbitrary header and body.
func rawFrame(flags byte, stream int16, op primitive.OpCode, length int32, body []byte) []byte {
	b := []byte{4, flags, byte(uint16(stream) >> 8), byte(stream), byte(op)}
	b = binary.BigEndian.AppendUint32(b, uint32(length))
	return append(b, body...)
}

func TestMalformedFrames(t *testing.T) {
	s := startServer(t)
	hugeLongString := binary.BigEndian.AppendUint32(nil, 0x7ffffff0) // claims 2 GiB
	tests := []struct {
		name  string
		frame []byte
		fatal bool
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), true},
		{"response frame", []byte{0x84, 0, 0, 1, 2, 0, 0, 0, 0}, true},
		{"oversize length", rawFrame(0, 1, primitive.OpCodeQuery, 2<<20, nil), true},
		{"negative length", rawFrame(0, 1, primitive.OpCodeQuery, -5, nil), true},
		{"unknown opcode", rawFrame(0, 1, 0x77, 3, []byte{1, 2, 3}), false},
		{"response opcode", rawFrame(0, 1, primitive.OpCodeResult, 0, nil), false},
		{"long string beyond body", rawFrame(0, 1, primitive.OpCodeQuery, 5, append(hugeLongString, 'x')), false},
		{"value beyond body", rawFrame(0, 1, primitive.OpCodeExecute, 13,
			[]byte{0, 1, 'a', 0, 1, byte(primitive.QueryFlagValues), 0, 1, 0x7f, 0xff, 0xff, 0xff, 'z'}), false},
		{"custom payload beyond body", rawFrame(byte(primitive.HeaderFlagCustomPayload), 1, primitive.OpCodeOptions, 9,
			[]byte{0, 1, 0, 1, 'k', 0x7f, 0, 0, 0}), false},
		{"truncated body", rawFrame(0, 1, primitive.OpCodeQuery, 4, []byte{0, 0, 0, 9}), false},
		{"batch child beyond body", rawFrame(0, 1, primitive.OpCodeBatch, 8, []byte{0, 0, 1, 0, 0x7f, 0, 0, 0}), false},
		{"compressed before STARTUP", rawFrame(byte(primitive.HeaderFlagCompressed), 1, primitive.OpCodeOptions, 4, []byte{0, 0, 0, 0}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, s.Addr())
			c.write(tt.frame)
			if tt.fatal {
				// Read raw: the answer may echo a version byte the codec rejects.
				c.nc.SetReadDeadline(time.Now().Add(testTimeout))
				resp, err := io.ReadAll(c.nc)
				if err != nil {
					t.Fatalf("connection not closed: %v", err)
				}
				if len(resp) < 15 || resp[4] != byte(primitive.OpCodeError) || binary.BigEndian.Uint32(resp[9:]) != uint32(primitive.ErrorCodeProtocolError) {
					t.Fatalf("not answered with PROTOCOL_ERROR: % x", resp)
				}
				return
			}
			if _, ok := c.recv().Body.Message.(*message.ProtocolError); !ok {
				t.Fatal("not answered with PROTOCOL_ERROR")
			}
			if _, ok := c.roundTrip(2, &message.Options{}).(*message.Supported); !ok {
				t.Fatal("connection unusable after a recoverable error")
			}
		})
	}
}

func TestBadCompressedBodies(t *testing.T) {
	s := startServer(t)
	for _, name := range []string{"lz4", "snappy"} {
		c := dial(t, s.Addr())
		c.startup("COMPRESSION", name)
		// lz4: declares 1 GiB; snappy: a varint length of 2^32.
		c.write(rawFrame(byte(primitive.HeaderFlagCompressed), 3, primitive.OpCodeQuery, 7, []byte{0x40, 0, 0, 0, 0xff, 0xff, 0x0f}))
		c.useCompression(name)
		if _, ok := c.recv().Body.Message.(*message.ProtocolError); !ok {
			t.Fatalf("%s: bad compressed body not answered with PROTOCOL_ERROR", name)
		}
		if _, ok := c.roundTrip(4, &message.Options{}).(*message.Supported); !ok {
			t.Fatalf("%s: connection unusable after a bad compressed body", name)
		}
	}
}

// TestAbuseThenNormalClient throws random, truncated and garbage frames at
// the server over many connections at once, then checks that a well-behaved
// client is served and that every connection goroutine is gone.
func TestAbuseThenNormalClient(t *testing.T) {
	base := runtime.NumGoroutine()
	s := startServer(t)
	const conns = 40
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() { abuse(t, s.Addr(), rand.New(rand.NewPCG(uint64(i), 42))) })
	}
	wg.Wait()

	sess := newSession(t, s.Addr())
	var version string
	if err := sess.Query("SELECT release_version FROM system.local WHERE key = 'local'").Scan(&version); err != nil || version == "" {
		t.Fatalf("gocql after the abuse: release_version %q, %v", version, err)
	}
	sess.Close()
	// Only the listener's accept loop remains once the clients are gone.
	waitGoroutines(t, base+1)
}

// abuse sends one kind of bad traffic on a fresh connection and disconnects,
// sometimes mid-frame, sometimes after reading the server's answer.
func abuse(t *testing.T, addr string, rng *rand.Rand) {
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Errorf("dial: %v", err)
		return
	}
	defer nc.Close()
	var buf bytes.Buffer
	switch rng.IntN(5) {
	case 0: // random bytes
		b := make([]byte, rng.IntN(4096))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		buf.Write(b)
	case 1: // a valid header followed by a random body
		op := []primitive.OpCode{primitive.OpCodeQuery, primitive.OpCodeExecute, primitive.OpCodeBatch, primitive.OpCodePrepare, primitive.OpCodeRegister, primitive.OpCodeStartup}[rng.IntN(6)]
		body := make([]byte, rng.IntN(200))
		for i := range body {
			body[i] = byte(rng.Uint32())
		}
		buf.Write(rawFrame(0, int16(rng.IntN(100)), op, int32(len(body)), body))
	case 2: // a frame cut short: the header promises more than is sent
		buf.Write(rawFrame(0, 1, primitive.OpCodeQuery, 1000, []byte("SELECT")))
	case 3: // half a header
		buf.Write([]byte{4, 0, 0})
	case 4: // valid frames then an unknown version
		buf.Write(rawFrame(0, 1, primitive.OpCodeOptions, 0, nil))
		buf.Write([]byte{0x05, 0, 0, 2, 5, 0, 0, 0, 0})
	}
	nc.Write(buf.Bytes()) //nolint:errcheck // the server may already have hung up
	if rng.IntN(2) == 0 {
		nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		nc.Read(make([]byte, 512)) //nolint:errcheck // any answer, or none, is fine
	}
}
