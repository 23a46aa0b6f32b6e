package minikafka

import (
	"encoding/binary"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// saslHandshakeKey is the SaslHandshake request key.
const saslHandshakeKey = 17

// handshakeV0Patch makes ApiVersions answers list SaslHandshake from v0,
// as Kafka does (0..1), where kfake lists only v1. librdkafka (kcat,
// confluent-kafka) requires v0 in that list before it authenticates at
// all, then uses v1 with SaslAuthenticate, which kfake serves; a client
// that really sends v0 is refused by the gate (api_version).
//
// The reader records each ApiVersions request kfake answers; the writer
// patches the answer with the same correlation id. Responses go out in
// request order, so the first recorded request is the next to match.
type handshakeV0Patch struct {
	mu      sync.Mutex
	pending []apiVersionsReq
}

type apiVersionsReq struct {
	corr    int32
	version int16
}

// expect records an ApiVersions request forwarded to kfake.
func (p *handshakeV0Patch) expect(corr int32, version int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = append(p.pending, apiVersionsReq{corr, version})
}

// apply returns frame, a whole response frame, with the SaslHandshake
// range widened if it answers a recorded ApiVersions request.
func (p *handshakeV0Patch) apply(frame []byte) []byte {
	if len(frame) < 8 {
		return frame
	}
	p.mu.Lock()
	if len(p.pending) == 0 || p.pending[0].corr != int32(binary.BigEndian.Uint32(frame[4:])) {
		p.mu.Unlock()
		return frame
	}
	req := p.pending[0]
	p.pending = p.pending[1:]
	p.mu.Unlock()

	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = req.version
	if err := resp.ReadFrom(frame[8:]); err != nil {
		return frame // an error answer at another version: nothing to widen
	}
	widened := false
	for i, k := range resp.ApiKeys {
		if k.ApiKey == saslHandshakeKey && k.MinVersion == 1 {
			resp.ApiKeys[i].MinVersion = 0
			widened = true
		}
	}
	if !widened {
		return frame
	}
	out := resp.AppendTo(append(make([]byte, 0, len(frame)), frame[:8]...))
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}
