package miniscylla

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/compression/lz4"
	"github.com/datastax/go-cassandra-native-protocol/compression/snappy"
	"github.com/datastax/go-cassandra-native-protocol/frame"
	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
)

// FuzzFrame feeds arbitrary bytes to the server's frame decoding, as one
// connection's stream, with no compression or with lz4/snappy negotiated.
// Every outcome must be a decoded request or a *frameError (io errors only
// when the input runs out), with no panic and no allocation beyond the frame
// limit. Seeds live in testdata/fuzz/FuzzFrame.
func FuzzFrame(f *testing.F) {
	names := []string{"", "lz4", "snappy"}
	f.Fuzz(func(t *testing.T, data []byte, comp byte) {
		var dec compressor
		if name := names[int(comp)%len(names)]; name != "" {
			dec = compressors[name]()
		}
		const maxBody = 64 << 10
		r := bytes.NewReader(data)
		var hb [headerSize]byte
		for {
			h, err := readHeader(r, &hb, maxBody)
			if err != nil {
				var fe *frameError
				if !errors.As(err, &fe) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("readHeader: untyped error %v", err)
				}
				return
			}
			body, err := readBody(r, nil, int(h.length))
			if err != nil {
				return
			}
			msg, err := decodeRequest(h, body, dec, maxBody)
			var fe *frameError
			switch {
			case err == nil && msg == nil:
				t.Fatal("decodeRequest returned neither message nor error")
			case err != nil && (!errors.As(err, &fe) || fe.Stream != h.stream || fe.Fatal):
				t.Fatalf("decodeRequest: want a non-fatal *frameError on stream %d, got %v", h.stream, err)
			}
		}
	})
}

// TestDecodeRequestAcceptsValidBodies guards checkBody against rejecting
// well-formed requests: every request kind, with every optional field, plain
// and compressed, must decode.
func TestDecodeRequestAcceptsValidBodies(t *testing.T) {
	ts := int64(1700000000000000)
	serial := primitive.ConsistencyLevelLocalSerial
	opts := &message.QueryOptions{
		Consistency:       primitive.ConsistencyLevelOne,
		PositionalValues:  []*primitive.Value{primitive.NewValue([]byte{1, 2}), primitive.NewNullValue(), primitive.NewUnsetValue(), primitive.NewValue([]byte{})},
		PageSize:          100,
		PagingState:       []byte{7, 7, 7},
		SerialConsistency: &serial,
		DefaultTimestamp:  &ts,
	}
	named := &message.QueryOptions{NamedValues: map[string]*primitive.Value{"a": primitive.NewValue([]byte("x"))}}
	reqs := []message.Message{
		&message.Options{},
		message.NewStartup("COMPRESSION", "snappy"),
		&message.Register{EventTypes: []primitive.EventType{primitive.EventTypeSchemaChange}},
		&message.Query{Query: "SELECT * FROM t", Options: opts},
		&message.Query{Query: "INSERT INTO t (a) VALUES (:a)", Options: named},
		&message.Prepare{Query: "SELECT * FROM t WHERE k = ?"},
		&message.Execute{QueryId: []byte("0123456789abcdef"), Options: opts},
		&message.Batch{Type: primitive.BatchTypeUnlogged, Consistency: primitive.ConsistencyLevelQuorum, SerialConsistency: &serial, DefaultTimestamp: &ts,
			Children: []*message.BatchChild{
				{Query: "INSERT INTO t (a) VALUES (?)", Values: []*primitive.Value{primitive.NewValue([]byte("v")), primitive.NewNullValue()}},
				{Id: []byte("0123456789abcdef")},
			}},
		&message.AuthResponse{Token: []byte("tok")},
	}
	for _, compName := range []string{"", "lz4", "snappy"} {
		for _, req := range reqs {
			var bc frame.BodyCompressor
			var dec compressor
			f := frame.NewFrame(primitive.ProtocolVersion4, 5, req)
			f.SetCustomPayload(map[string][]byte{"trace": []byte("on")})
			if compName != "" {
				bc = map[string]frame.BodyCompressor{"lz4": lz4.Compressor{}, "snappy": snappy.Compressor{}}[compName]
				dec = compressors[compName]()
				f.Header.Flags = f.Header.Flags.Add(primitive.HeaderFlagCompressed)
			}
			var b bytes.Buffer
			if err := frame.NewCodecWithCompression(bc).EncodeFrame(f, &b); err != nil {
				t.Fatal(err)
			}
			var hb [headerSize]byte
			h, err := readHeader(&b, &hb, 1<<20)
			if err != nil {
				t.Fatalf("%v %s: header: %v", req.GetOpCode(), compName, err)
			}
			msg, err := decodeRequest(h, b.Bytes(), dec, 1<<20)
			if err != nil || msg.GetOpCode() != req.GetOpCode() {
				t.Fatalf("%v %s: decoded %v, %v", req.GetOpCode(), compName, msg, err)
			}
		}
	}
}

func TestReadBodyGrowsWithData(t *testing.T) {
	got, err := readBody(bytes.NewReader([]byte("0123456789")), nil, 100<<20)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(got) != "0123456789" {
		t.Fatalf("readBody = %q, %v; want the 10 bytes and ErrUnexpectedEOF", got, err)
	}
	if cap(got) > 2*bodyChunk {
		t.Fatalf("allocated %d bytes for 10 received", cap(got))
	}
	big := bytes.Repeat([]byte{7}, 5*bodyChunk+3)
	if got, err := readBody(bytes.NewReader(big), make([]byte, 0, 16), len(big)); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("readBody of %d bytes: got %d, %v", len(big), len(got), err)
	}
}
