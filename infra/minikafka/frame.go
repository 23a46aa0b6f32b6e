package minikafka

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// headerLen is the part of a request frame the gate reads before it lets
// kfake see the frame: the size (4 bytes), then the request header's api
// key (2), api version (2), correlation id (4) and client id length (2).
// Every request header version carries these except v0, which only the
// long-removed ControlledShutdown v0 used and kfake does not serve.
const headerLen = 14

// apiVersionsKey is the ApiVersions request key, answered even at versions
// the broker does not serve.
const apiVersionsKey = 18

// Reasons a request frame is refused; each is a label of Broker.Refused.
const (
	ReasonSize      = "size"        // size header negative or above the request limit
	ReasonTruncated = "truncated"   // frame too short for the header fields, or the client id overruns it
	ReasonKey       = "api_key"     // api key the broker does not serve
	ReasonVersion   = "api_version" // version outside the key's served range
)

// ErrRefused is wrapped by every FrameError.
var ErrRefused = errors.New("kafka request refused")

// FrameError says why a request frame was refused; the connection is
// closed, as Kafka closes it on an invalid receive or an unsupported api.
type FrameError struct {
	Reason  string // one of the Reason* constants
	Size    int32
	Key     int16
	Version int16
}

func (e *FrameError) Error() string {
	switch e.Reason {
	case ReasonSize:
		return fmt.Sprintf("%v: frame size %d", ErrRefused, e.Size)
	case ReasonKey:
		return fmt.Sprintf("%v: unknown api key %d", ErrRefused, e.Key)
	case ReasonVersion:
		return fmt.Sprintf("%v: %s version %d not served", ErrRefused, kmsg.NameForKey(e.Key), e.Version)
	}
	if e.Size < 0 {
		return fmt.Sprintf("%v: connection ended inside a request header", ErrRefused)
	}
	return fmt.Sprintf("%v: truncated request header (frame size %d)", ErrRefused, e.Size)
}

func (e *FrameError) Unwrap() error { return ErrRefused }

// versionRange is the inclusive range of versions served for one api key.
type versionRange struct{ min, max int16 }

// frameHeader is the decoded start of a request frame.
type frameHeader struct {
	size        int32 // bytes after the size field
	key         int16
	version     int16
	corr        int32
	clientIDLen int16 // -1 for a null client id
}

func parseHeader(b []byte) frameHeader {
	return frameHeader{
		size:        int32(binary.BigEndian.Uint32(b[0:])),
		key:         int16(binary.BigEndian.Uint16(b[4:])),
		version:     int16(binary.BigEndian.Uint16(b[6:])),
		corr:        int32(binary.BigEndian.Uint32(b[8:])),
		clientIDLen: int16(binary.BigEndian.Uint16(b[12:])),
	}
}

// frameRules decides which request frames reach kfake.
type frameRules struct {
	maxSize int32                  // largest frame accepted (bytes after the size field)
	apis    map[int16]versionRange // what kfake serves
}

// verdict is what the gate does with a frame whose header passed check.
type verdict int

const (
	forward            verdict = iota // hand the frame to kfake as is
	replaceApiVersions                // ApiVersions above the served range: forward a canonical request at that version
)

// check validates a frame header; a refused frame gets a *FrameError.
// replaceApiVersions means an ApiVersions request at a version the broker
// does not serve: Kafka answers it (KIP-511) rather than closing.
func (r frameRules) check(h frameHeader) (verdict, *FrameError) {
	refuse := func(reason string) (verdict, *FrameError) {
		return forward, &FrameError{Reason: reason, Size: h.size, Key: h.key, Version: h.version}
	}
	switch {
	case h.size < 0 || h.size > r.maxSize:
		return refuse(ReasonSize)
	case h.size < headerLen-4 || h.clientIDLen < -1 || int32(h.clientIDLen) > h.size-(headerLen-4):
		return refuse(ReasonTruncated)
	}
	vr, ok := r.apis[h.key]
	switch {
	case !ok:
		return refuse(ReasonKey)
	case h.key == apiVersionsKey && h.version > vr.max:
		return replaceApiVersions, nil
	case h.version < vr.min || h.version > vr.max:
		return refuse(ReasonVersion)
	}
	return forward, nil
}

// apiVersionsFrame is a whole ApiVersions request frame at version v with
// correlation id corr and a null client id, which kfake parses at any
// version and answers, above its range, with UNSUPPORTED_VERSION and the
// versions it serves. It replaces a client's frame whose body follows a
// layout newer than kfake knows.
func apiVersionsFrame(version int16, corr int32) []byte {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = version
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint16(b, apiVersionsKey)
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 0xffff) // null client id
	if req.IsFlexible() {
		b = append(b, 0) // no tagged fields in the header
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}
