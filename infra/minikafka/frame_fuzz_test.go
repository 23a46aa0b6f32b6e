package minikafka

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// bytesConn is a net.Conn that reads a fixed input and discards writes.
type bytesConn struct{ *bytes.Reader }

func (bytesConn) Write(p []byte) (int, error)      { return len(p), nil }
func (bytesConn) Close() error                     { return nil }
func (bytesConn) LocalAddr() net.Addr              { return hostPort("127.0.0.1:9092") }
func (bytesConn) RemoteAddr() net.Addr             { return hostPort("127.0.0.1:50000") }
func (bytesConn) SetDeadline(time.Time) error      { return nil }
func (bytesConn) SetReadDeadline(time.Time) error  { return nil }
func (bytesConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzFrame feeds arbitrary bytes through the gate and reads them the way
// kfake's reader does (size, body, header, request body). Whatever comes
// out must be what kfake can take: a size within the limit, a known key at
// a served version (or the canonical ApiVersions frame the gate builds),
// a body that parses without panicking; and a frame forwarded as is must be
// the client's bytes unchanged.
func FuzzFrame(f *testing.F) {
	apis, err := servedAPIs()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(requestFrame(kmsg.NewPtrApiVersionsRequest(), 1))
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 1
	f.Add(requestFrame(meta, 2))
	f.Add(unknownKeyFrame)
	f.Add(append(rawHeader(40, 18, 77, 3), "abc012345678901234567890123456789"...))
	f.Add(rawHeader(-1, 0, 9, -1))
	f.Add(rawHeader(6, 3, 1, -1))

	const maxSize = 1 << 16
	f.Fuzz(func(t *testing.T, in []byte) {
		g := newGuard(frameRules{maxSize: maxSize, apis: apis}, maxSize, time.Second, nil, slog.New(slog.DiscardHandler))
		fc := newFrameConn(bytesConn{bytes.NewReader(in)}, g, &gateListener{conns: map[*frameConn]struct{}{}})
		off := 0 // where the next frame starts in the input
		for {
			var size [4]byte
			if _, err := io.ReadFull(fc, size[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(size[:])
			if n > maxSize {
				t.Fatalf("frame of %d bytes passed, limit %d", n, maxSize)
			}
			body := make([]byte, n)
			if _, err := io.ReadFull(fc, body); err != nil {
				return
			}
			frame := append(size[:], body...)
			key, version := int16(binary.BigEndian.Uint16(body)), int16(binary.BigEndian.Uint16(body[2:]))
			vr, ok := apis[key]
			replaced := ok && key == apiVersionsKey && version > vr.max
			switch {
			case !ok || kmsg.RequestForKey(key) == nil:
				t.Fatalf("api key %d passed", key)
			case replaced:
				if want := apiVersionsFrame(version, int32(binary.BigEndian.Uint32(body[4:]))); !bytes.Equal(frame, want) {
					t.Fatalf("ApiVersions v%d forwarded as %x, want the canonical %x", version, frame, want)
				}
			case version < vr.min || version > vr.max:
				t.Fatalf("%s v%d passed, served %d..%d", kmsg.NameForKey(key), version, vr.min, vr.max)
			case !bytes.Equal(frame, in[off:off+len(frame)]):
				t.Fatalf("frame at %d changed on the way: %x", off, frame)
			}
			if replaced { // the client's frame, skipped whole
				off += 4 + int(binary.BigEndian.Uint32(in[off:]))
			} else {
				off += len(frame)
			}
			parseLikeKfake(body)
		}
	})
}

// parseLikeKfake decodes a request body as kfake's reader does.
func parseLikeKfake(body []byte) {
	r := kbin.Reader{Src: body}
	key, version := r.Int16(), r.Int16()
	r.Int32()
	r.NullableString()
	req := kmsg.RequestForKey(key)
	req.SetVersion(version)
	if req.IsFlexible() {
		kmsg.SkipTags(&r)
	}
	_ = req.ReadFrom(r.Src)
}
