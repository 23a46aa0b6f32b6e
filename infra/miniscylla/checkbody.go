package miniscylla

import (
	"encoding/binary"
	"fmt"

	"github.com/datastax/go-cassandra-native-protocol/primitive"
)

// checkBody walks the length-prefixed fields of a v4 request body and fails
// if any [long string], [bytes] or [value] claims more bytes than remain.
// The codec library would otherwise allocate the claimed size before reading.
// Fields with 16-bit lengths are bounded by 64 KiB and need no check.
func checkBody(h header, body []byte) error {
	c := cursor{b: body}
	if h.flags.Contains(primitive.HeaderFlagCustomPayload) {
		c.bytesMap()
	}
	switch h.opcode {
	case primitive.OpCodeQuery:
		c.longString()
		c.queryOptions()
	case primitive.OpCodePrepare:
		c.longString()
	case primitive.OpCodeExecute:
		c.shortBytes()
		c.queryOptions()
	case primitive.OpCodeBatch:
		c.batch()
	case primitive.OpCodeAuthResponse:
		c.bytes()
	}
	return c.err
}

// cursor reads a body, remembering the first error; reads after an error are no-ops.
type cursor struct {
	b   []byte
	err error
}

func (c *cursor) take(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || n > len(c.b) {
		c.err = fmt.Errorf("%w: need %d bytes, %d left", errTruncated, n, len(c.b))
		return nil
	}
	p := c.b[:n]
	c.b = c.b[n:]
	return p
}

func (c *cursor) byte1() byte {
	if p := c.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (c *cursor) short() int {
	if p := c.take(2); p != nil {
		return int(binary.BigEndian.Uint16(p))
	}
	return 0
}

func (c *cursor) int32() int32 {
	if p := c.take(4); p != nil {
		return int32(binary.BigEndian.Uint32(p))
	}
	return 0
}

func (c *cursor) longString() { c.take(int(c.int32())) }
func (c *cursor) shortBytes() { c.take(c.short()) }
func (c *cursor) str()        { c.take(c.short()) }

// bytes is [bytes]: an int length, negative meaning null.
func (c *cursor) bytes() {
	if n := c.int32(); n > 0 {
		c.take(int(n))
	}
}

// value is [value]: like [bytes], with -2 meaning unset.
func (c *cursor) value() { c.bytes() }

func (c *cursor) bytesMap() {
	for n := c.short(); n > 0 && c.err == nil; n-- {
		c.str()
		c.bytes()
	}
}

func (c *cursor) values(named bool) {
	for n := c.short(); n > 0 && c.err == nil; n-- {
		if named {
			c.str()
		}
		c.value()
	}
}

func (c *cursor) queryOptions() {
	c.short() // consistency
	flags := primitive.QueryFlag(c.byte1())
	if flags.Contains(primitive.QueryFlagValues) {
		c.values(flags.Contains(primitive.QueryFlagValueNames))
	}
	if flags.Contains(primitive.QueryFlagPageSize) {
		c.take(4)
	}
	if flags.Contains(primitive.QueryFlagPagingState) {
		c.bytes()
	}
}

func (c *cursor) batch() {
	c.byte1() // batch type
	for n := c.short(); n > 0 && c.err == nil; n-- {
		switch c.byte1() {
		case byte(primitive.BatchChildTypeQueryString):
			c.longString()
		case byte(primitive.BatchChildTypePreparedId):
			c.shortBytes()
		}
		c.values(false)
	}
}
