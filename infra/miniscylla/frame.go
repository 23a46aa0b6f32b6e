package miniscylla

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
)

// The frame layer: v4 header parsing, bounded body decoding and response
// encoding. Decoding is split from the codec library on purpose: its
// primitives allocate whatever a length prefix claims (a 5-byte body can ask
// for 2 GiB), so every body is checked by checkBody before it is decoded.

const (
	headerSize     = 9
	wireVersion    = byte(primitive.ProtocolVersion4)
	responseBit    = 0x80
	supportedRange = "the lowest supported version is 4 and the greatest is 4"
)

// header is a decoded v4 frame header.
type header struct {
	version byte
	flags   primitive.HeaderFlag
	stream  int16
	opcode  primitive.OpCode
	length  int32
}

// frameError is a protocol violation found in a client's frame. The server
// answers it with a PROTOCOL_ERROR on Stream, framed with Version; when
// Fatal, it then closes the connection because framing can no longer be trusted.
type frameError struct {
	Version byte
	Stream  int16
	Fatal   bool
	Msg     string
}

func (e *frameError) Error() string {
	return fmt.Sprintf("protocol error on stream %d: %s", e.Stream, e.Msg)
}

// requestCodecs are the message codecs for the opcodes a client may send.
var requestCodecs = func() map[primitive.OpCode]message.Codec {
	want := map[primitive.OpCode]bool{
		primitive.OpCodeStartup: true, primitive.OpCodeOptions: true, primitive.OpCodeQuery: true,
		primitive.OpCodePrepare: true, primitive.OpCodeExecute: true, primitive.OpCodeRegister: true,
		primitive.OpCodeBatch: true, primitive.OpCodeAuthResponse: true,
	}
	m := make(map[primitive.OpCode]message.Codec, len(want))
	for _, c := range message.DefaultMessageCodecs {
		if want[c.GetOpCode()] {
			m[c.GetOpCode()] = c
		}
	}
	return m
}()

// responseCodecs are the message codecs for everything the server sends.
var responseCodecs = func() map[primitive.OpCode]message.Codec {
	m := make(map[primitive.OpCode]message.Codec)
	for _, c := range message.DefaultMessageCodecs {
		if _, isRequest := requestCodecs[c.GetOpCode()]; !isRequest {
			m[c.GetOpCode()] = c
		}
	}
	return m
}()

// readHeader reads one header. Any version other than v4, a response frame, or
// a length outside [0, maxBody] is a fatal *frameError; io errors pass through.
func readHeader(r io.Reader, buf *[headerSize]byte, maxBody int) (header, error) {
	if _, err := io.ReadFull(r, buf[:1]); err != nil {
		return header{}, err
	}
	v := buf[0]
	if v != wireVersion {
		return header{}, versionError(r, v)
	}
	if _, err := io.ReadFull(r, buf[1:]); err != nil {
		return header{}, err
	}
	h := header{
		version: v,
		flags:   primitive.HeaderFlag(buf[1]),
		stream:  int16(binary.BigEndian.Uint16(buf[2:4])),
		opcode:  primitive.OpCode(buf[4]),
		length:  int32(binary.BigEndian.Uint32(buf[5:9])),
	}
	if h.length < 0 || int(h.length) > maxBody {
		return h, &frameError{Version: v, Stream: h.stream, Fatal: true,
			Msg: fmt.Sprintf("frame body length %d outside [0, %d]", h.length, maxBody)}
	}
	return h, nil
}

// versionError builds the error for a frame whose first byte is v. Drivers
// negotiate by sending their highest version and downgrading on this exact
// wording (gocql parses the version range, the DataStax drivers look for
// "unsupported protocol version"), and they parse the reply with the header
// layout of the version they sent, so the reply echoes it and its stream id.
func versionError(r io.Reader, v byte) error {
	if v&responseBit != 0 {
		return &frameError{Version: wireVersion, Fatal: true, Msg: fmt.Sprintf("unexpected response frame (version byte 0x%02x)", v)}
	}
	var stream int16
	var rest [4]byte
	if v <= 2 {
		// v1/v2 header: version, flags, one-byte stream.
		if _, err := io.ReadFull(r, rest[:2]); err == nil {
			stream = int16(int8(rest[1]))
		}
	} else if _, err := io.ReadFull(r, rest[:3]); err == nil {
		stream = int16(binary.BigEndian.Uint16(rest[1:3]))
	}
	return &frameError{Version: v, Stream: stream, Fatal: true,
		Msg: fmt.Sprintf("Invalid or unsupported protocol version (%d); %s", v, supportedRange)}
}

// bodyChunk is how much of a body larger than the reused buffer is read
// before the body gets its full-size buffer.
const bodyChunk = 64 << 10

// readBody reads an n-byte body into buf, reusing its capacity when large
// enough. A larger body costs at most bodyChunk until that much has
// arrived, so a client that sends a header and stalls holds little memory;
// then it is allocated at its final size in one step (the caller has
// reserved n bytes of the in-flight budget), leaving no trail of
// ever-doubling buffers for the garbage collector.
func readBody(r io.Reader, buf []byte, n int) ([]byte, error) {
	if cap(buf) >= n {
		k, err := io.ReadFull(r, buf[:n])
		return buf[:k], err
	}
	first := min(n, bodyChunk)
	if cap(buf) < first {
		buf = make([]byte, first)
	}
	k, err := io.ReadFull(r, buf[:first])
	if err != nil || first == n {
		return buf[:k], err
	}
	full := make([]byte, n)
	copy(full, buf[:first])
	k, err = io.ReadFull(r, full[first:])
	return full[:first+k], err
}

// decodeRequest decodes a request body. Errors are non-fatal *frameErrors:
// the frame was read whole, so the connection can go on.
func decodeRequest(h header, body []byte, dec compressor, maxBody int) (msg message.Message, err error) {
	fail := func(format string, args ...any) error {
		return &frameError{Version: h.version, Stream: h.stream, Msg: fmt.Sprintf(format, args...)}
	}
	codec, ok := requestCodecs[h.opcode]
	if !ok {
		return nil, fail("unknown or non-request opcode 0x%02x", byte(h.opcode))
	}
	if h.flags.Contains(primitive.HeaderFlagCompressed) {
		if dec == nil {
			return nil, fail("compressed frame before compression was negotiated in STARTUP")
		}
		if body, err = dec.decompress(body, maxBody); err != nil {
			return nil, fail("cannot decompress %s body: %v", h.opcode, err)
		}
	}
	if err := checkBody(h, body); err != nil {
		return nil, fail("malformed %s body: %v", h.opcode, err)
	}
	defer func() {
		if p := recover(); p != nil {
			msg, err = nil, fail("malformed %s body: decoder panic: %v", h.opcode, p)
		}
	}()
	src := bytes.NewReader(body)
	if h.flags.Contains(primitive.HeaderFlagCustomPayload) {
		if _, err := primitive.ReadBytesMap(src); err != nil {
			return nil, fail("malformed custom payload: %v", err)
		}
	}
	if msg, err = codec.Decode(src, primitive.ProtocolVersion4); err != nil {
		return nil, fail("malformed %s body: %v", h.opcode, err)
	}
	return msg, nil
}

// bodyEncoder is what encoding a response body reuses from one frame to
// the next.
type bodyEncoder struct {
	buf bytes.Buffer
	// rows hands a ROWS result's metadata to the codec without its rows
	// (encodeBody); it holds none between frames.
	rows message.RowsResult
}

// encodeFrame appends a v4 response frame carrying msg to dst. A traceID
// sets the tracing flag and leads the body. With comp non-nil the body is
// compressed; enc's buffer holds the plain body.
func encodeFrame(dst []byte, enc *bodyEncoder, version byte, stream int16, msg message.Message, traceID []byte, comp compressor) ([]byte, error) {
	codec, ok := responseCodecs[msg.GetOpCode()]
	if !ok {
		return dst, fmt.Errorf("no response codec for opcode %v", msg.GetOpCode())
	}
	enc.buf.Reset()
	enc.buf.Write(traceID)
	if err := enc.encodeBody(codec, msg, primitive.ProtocolVersion(version)); err != nil {
		return dst, fmt.Errorf("encode %v: %w", msg.GetOpCode(), err)
	}
	start := len(dst)
	var flags primitive.HeaderFlag
	dst = append(dst, version|responseBit, 0, byte(uint16(stream)>>8), byte(stream), byte(msg.GetOpCode()), 0, 0, 0, 0)
	if comp == nil {
		dst = append(dst, enc.buf.Bytes()...)
	} else {
		flags = primitive.HeaderFlagCompressed
		var err error
		if dst, err = comp.compress(dst, enc.buf.Bytes()); err != nil {
			return dst[:start], err
		}
	}
	if traceID != nil {
		flags |= primitive.HeaderFlagTracing
	}
	dst[start+1] = byte(flags)
	binary.BigEndian.PutUint32(dst[start+5:], uint32(len(dst)-start-headerSize))
	return dst, nil
}

// encodeBody appends msg's body to enc.buf. The codec writes each [int]
// through binary.Write, boxing it: a ROWS result, whose cells are most of
// what the server sends (LWT results, CDC log polls), has its cells
// appended here instead, after the codec encoded the rest with no rows.
func (enc *bodyEncoder) encodeBody(codec message.Codec, msg message.Message, version primitive.ProtocolVersion) error {
	rows, ok := msg.(*message.RowsResult)
	if !ok {
		return codec.Encode(msg, &enc.buf, version)
	}
	enc.rows.Metadata = rows.Metadata
	err := codec.Encode(&enc.rows, &enc.buf, version)
	enc.rows.Metadata = nil
	if err != nil {
		return err
	}
	// The body ends with the row count, 0: make it the real one.
	b := enc.buf.Bytes()
	binary.BigEndian.PutUint32(b[len(b)-4:], uint32(len(rows.Data)))
	enc.buf.Write(appendRowCells(enc.buf.AvailableBuffer(), rows.Data))
	return nil
}

// appendRowCells appends every cell of data as [bytes]: an int length (-1
// for null) and the value.
func appendRowCells(b []byte, data message.RowSet) []byte {
	for _, row := range data {
		for _, cell := range row {
			if cell == nil {
				b = binary.BigEndian.AppendUint32(b, math.MaxUint32) // -1
				continue
			}
			b = binary.BigEndian.AppendUint32(b, uint32(len(cell)))
			b = append(b, cell...)
		}
	}
	return b
}

// errTruncated reports a length prefix that points past the end of the body.
var errTruncated = errors.New("length prefix exceeds body")
