package miniscylla

import (
	"encoding/binary"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
)

// response is one frame for the writer goroutine.
type response struct {
	stream int16
	msg    message.Message
	// raw, when set, is a complete pre-encoded frame sent instead of msg.
	raw []byte
	// traceID, when set, is the trace session of a traced request.
	traceID []byte
	// compressWith, when set, compresses every frame written after this one.
	compressWith compressor
}

// pushEvent queues a schema change for the writer if the client registered for it.
func (c *conn) pushEvent(ev message.Message) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if !c.evWanted || c.evClosed {
		return
	}
	c.events = append(c.events, ev)
	select {
	case c.evSig <- struct{}{}:
	default:
	}
}

func (c *conn) takeEvents(closing bool) []message.Message {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	evs := c.events
	c.events = nil
	c.evClosed = c.evClosed || closing
	return evs
}

// writeLoop encodes responses and events, coalescing whatever is queued into
// one socket write. After a write error it keeps draining (and discarding)
// so that request goroutines never block; it returns when out is closed.
func (c *conn) writeLoop() {
	var (
		buf    []byte
		enc    bodyEncoder
		comp   compressor
		broken bool
	)
	for {
		select {
		case r, ok := <-c.out:
			if !ok {
				c.takeEvents(true)
				if !broken && len(buf) > 0 {
					c.nc.Write(buf) //nolint:errcheck // the connection closes next either way
				}
				return
			}
			buf = c.appendResponse(buf, &enc, r, comp)
			if r.compressWith != nil {
				comp = r.compressWith
			}
		case <-c.evSig:
			for _, ev := range c.takeEvents(false) {
				buf = c.appendResponse(buf, &enc, response{stream: -1, msg: ev}, comp)
			}
		}
		if len(c.out) > 0 && len(buf) < ioBufferSize {
			continue
		}
		if !broken && len(buf) > 0 {
			if _, err := c.nc.Write(buf); err != nil {
				broken = true
				c.nc.Close() // unblocks the reader: the client is gone
			}
		}
		if cap(buf) > keepBufferMax {
			buf = nil
		}
		buf = buf[:0]
	}
}

func (c *conn) appendResponse(buf []byte, enc *bodyEncoder, r response, comp compressor) []byte {
	if r.raw != nil {
		return append(buf, r.raw...)
	}
	out, err := encodeFrame(buf, enc, wireVersion, r.stream, r.msg, r.traceID, comp)
	if err == nil {
		return out
	}
	c.log.Error("miniscylla cannot encode response", "op", r.msg.GetOpCode().String(), "err", err)
	out, err = encodeFrame(buf, enc, wireVersion, r.stream, &message.ServerError{ErrorMessage: "cannot encode response: " + err.Error()}, nil, comp)
	if err != nil {
		return buf
	}
	return out
}

// protocolErrorFrame encodes a PROTOCOL_ERROR by hand in the header layout of
// version v (8 bytes for v1/v2, 9 otherwise), which the codec cannot do for
// versions it does not know.
func protocolErrorFrame(v byte, stream int16, msg string) []byte {
	if len(msg) > 0xffff {
		msg = msg[:0xffff]
	}
	var f []byte
	if v <= 2 {
		f = []byte{v | responseBit, 0, byte(stream), byte(primitive.OpCodeError)}
	} else {
		f = []byte{v | responseBit, 0, byte(uint16(stream) >> 8), byte(stream), byte(primitive.OpCodeError)}
	}
	f = binary.BigEndian.AppendUint32(f, uint32(4+2+len(msg)))
	f = binary.BigEndian.AppendUint32(f, uint32(primitive.ErrorCodeProtocolError))
	f = binary.BigEndian.AppendUint16(f, uint16(len(msg)))
	return append(f, msg...)
}
