package minikafka

import (
	"encoding/binary"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// saslHandshakeKey is the SaslHandshake request key.
const saslHandshakeKey = 17

// responsePatches brings two kfake answers in line with Kafka's, on the
// way out:
//
//   - ApiVersions lists SaslHandshake from v0 (Kafka: 0..1; kfake: 1..1).
//     librdkafka (kcat, confluent-kafka) requires v0 in that list before it
//     authenticates at all, then uses v1 with SaslAuthenticate, which kfake
//     serves; a client that really sends v0 is refused by the gate.
//   - A successful SaslHandshake lists the enabled mechanisms, as Kafka's
//     always does (kfake lists them only on failure); kafkajs refuses to
//     authenticate with a mechanism the list lacks.
//
// The reader records each request to patch; the writer patches the answer
// with the same correlation id. Responses go out in request order.
type responsePatches struct {
	mu      sync.Mutex
	pending []pendingPatch
}

type pendingPatch struct {
	corr int32
	fix  func(body []byte) []byte // body after the correlation id; nil result: unchanged
}

// expect records that the response to corr is to be fixed.
func (p *responsePatches) expect(corr int32, fix func([]byte) []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = append(p.pending, pendingPatch{corr, fix})
}

// apply returns frame, a whole response frame, patched if it answers a
// recorded request. Records before the matching one are dropped: their
// answers never came.
func (p *responsePatches) apply(frame []byte) []byte {
	if len(frame) < 8 {
		return frame
	}
	corr := int32(binary.BigEndian.Uint32(frame[4:]))
	p.mu.Lock()
	i := slices.IndexFunc(p.pending, func(pp pendingPatch) bool { return pp.corr == corr })
	if i < 0 {
		p.mu.Unlock()
		return frame
	}
	fix := p.pending[i].fix
	p.pending = p.pending[i+1:]
	p.mu.Unlock()

	body := fix(frame[8:])
	if body == nil {
		return frame
	}
	out := append(append(make([]byte, 0, 8+len(body)), frame[:8]...), body...)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

// patchFor returns the fix for a request's answer, or nil.
func patchFor(key, version int16, mechanisms []string) func([]byte) []byte {
	switch {
	case key == apiVersionsKey:
		return func(body []byte) []byte { return widenSASLHandshake(version, body) }
	case key == saslHandshakeKey && len(mechanisms) > 0:
		return func(body []byte) []byte { return listMechanisms(version, mechanisms, body) }
	}
	return nil
}

func widenSASLHandshake(version int16, body []byte) []byte {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = version
	if err := resp.ReadFrom(body); err != nil {
		return nil // an error answer at another version: nothing to widen
	}
	i := slices.IndexFunc(resp.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool {
		return k.ApiKey == saslHandshakeKey && k.MinVersion == 1
	})
	if i < 0 {
		return nil
	}
	resp.ApiKeys[i].MinVersion = 0
	return resp.AppendTo(nil)
}

func listMechanisms(version int16, mechanisms []string, body []byte) []byte {
	resp := kmsg.NewPtrSASLHandshakeResponse()
	resp.Version = version
	if err := resp.ReadFrom(body); err != nil || resp.ErrorCode != 0 || len(resp.SupportedMechanisms) > 0 {
		return nil
	}
	resp.SupportedMechanisms = mechanisms
	return resp.AppendTo(nil)
}
