package minikafka

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/outboxnode/outbox/infra/internal/memtest"
	"github.com/outboxnode/outbox/infra/minikafka/minikafkatest"
)

// requestFrame encodes req as a whole request frame, client id "t".
func requestFrame(req kmsg.Request, corr int32) []byte {
	b := make([]byte, 4, 64)
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 1)
	b = append(b, 't')
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// rawHeader is the 14 bytes the gate checks: size, key, version,
// correlation id 1 and a client id length.
func rawHeader(size int32, key, version, clientIDLen int16) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(size))
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 1)
	return binary.BigEndian.AppendUint16(b, uint16(clientIDLen))
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// awaitClosed fails unless the broker closes c (EOF or reset, not a
// timeout) within 30 s, without answering.
func awaitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after 30 s")
	}
	if n != 0 {
		t.Fatalf("broker answered %d bytes, want the connection closed unanswered", n)
	}
}

// readResponse reads one response frame and returns its correlation id
// and body.
func readResponse(c net.Conn, within time.Duration) (int32, []byte, error) {
	if err := c.SetReadDeadline(time.Now().Add(within)); err != nil {
		return 0, nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return 0, nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		return 0, nil, err
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:], nil
}

// unknownKeyFrame is the 14-byte request that killed kfake's process: an
// api key kmsg does not know.
var unknownKeyFrame = rawHeader(10, 1000, 0, -1)

func TestGateRefusesFramesKfakeCannotTake(t *testing.T) {
	b := startBroker(t, Config{MaxMessageBytes: 1000})
	max := int32(16*1000 + requestHeadroom)
	for _, tc := range []struct {
		name, reason string
		frame        []byte
	}{
		{"unknown api key", ReasonKey, unknownKeyFrame},
		{"negative api key", ReasonKey, rawHeader(10, -1, 0, -1)},
		{"negative size", ReasonSize, append(rawHeader(-5, 3, 1, -1), make([]byte, 64)...)},
		{"size above the request limit", ReasonSize, append(rawHeader(max+1, 0, 9, -1), make([]byte, 64)...)},
		{"size 4 GiB - 1", ReasonSize, append(rawHeader(-1, 0, 9, -1), make([]byte, 64)...)},
		{"size too small for a header", ReasonTruncated, rawHeader(6, 18, 0, -1)},
		{"client id past the frame", ReasonTruncated, rawHeader(10, 18, 0, 40)},
		{"client id length below -1", ReasonTruncated, rawHeader(10, 18, 0, -2)},
		{"produce version above the range", ReasonVersion, rawHeader(10, 0, 99, -1)},
		{"negative metadata version", ReasonVersion, rawHeader(10, 3, -1, -1)},
		{"negative api versions version", ReasonVersion, rawHeader(10, 18, -3, -1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Refused()[tc.reason]
			c := dial(t, b.Addr())
			if _, err := c.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			awaitClosed(t, c)
			if got := b.Refused()[tc.reason]; got != before+1 {
				t.Fatalf("Refused()[%s] = %d, want %d", tc.reason, got, before+1)
			}
		})
	}
	// The broker still serves.
	if _, _, err := syncProducer(t, b.Addr(), idempotentConfig()).SendMessage(&sarama.ProducerMessage{Topic: "after", Value: sarama.StringEncoder("v")}); err != nil {
		t.Fatalf("produce after refusals: %v", err)
	}
}

// TestApiVersionsAboveRangeIsAnswered: like Kafka (KIP-511), an ApiVersions
// request newer than the broker gets UNSUPPORTED_VERSION with the
// ApiVersions versions served, whatever its body, and the connection stays
// usable.
func TestApiVersionsAboveRangeIsAnswered(t *testing.T) {
	b := startBroker(t, Config{})
	c := dial(t, b.Addr())
	frame := append(rawHeader(10+200, 18, 99, -1), make([]byte, 200)...)
	if _, err := rand.Read(frame[14:]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	corr, body, err := readResponse(c, 30*time.Second)
	if err != nil {
		t.Fatalf("no answer to ApiVersions v99: %v", err)
	}
	resp := kmsg.NewPtrApiVersionsResponse() // v0, as Kafka answers
	if err := resp.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
	apis, _ := servedAPIs()
	if corr != 1 || resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) != 1 ||
		resp.ApiKeys[0].ApiKey != 18 || resp.ApiKeys[0].MaxVersion != apis[18].max {
		t.Fatalf("corr %d, error %d, keys %+v; want corr 1, UNSUPPORTED_VERSION, ApiVersions 0..%d", corr, resp.ErrorCode, resp.ApiKeys, apis[18].max)
	}
	req := kmsg.NewPtrApiVersionsRequest()
	if _, err := c.Write(requestFrame(req, 2)); err != nil {
		t.Fatal(err)
	}
	corr, body, err = readResponse(c, 30*time.Second)
	if err != nil {
		t.Fatalf("second request on the connection: %v", err)
	}
	resp = kmsg.NewPtrApiVersionsResponse()
	if err := resp.ReadFrom(body); err != nil || corr != 2 || resp.ErrorCode != 0 || len(resp.ApiKeys) < 20 {
		t.Fatalf("corr %d, error %d, %d keys, err %v; want the full list", corr, resp.ErrorCode, len(resp.ApiKeys), err)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == saslHandshakeKey && (k.MinVersion != 0 || k.MaxVersion != 1) {
			t.Fatalf("SaslHandshake listed %d..%d, want 0..1 as Kafka (librdkafka needs v0 listed)", k.MinVersion, k.MaxVersion)
		}
	}
}

// TestBudgetMakesConnectionsWait: with a budget of one largest frame, a
// connection that holds it (a frame whose body has not arrived) keeps the
// next connection's request waiting, unanswered, until it closes.
func TestBudgetMakesConnectionsWait(t *testing.T) {
	b := startBroker(t, Config{MaxMessageBytes: 1000, MaxBufferedRequestBytes: 16*1000 + requestHeadroom})
	holder := dial(t, b.Addr())
	if _, err := holder.Write(rawHeader(16*1000+requestHeadroom, 0, 9, -1)); err != nil {
		t.Fatal(err)
	}
	waiter := dial(t, b.Addr())
	// The holder's header may reach the gate after the waiter's request;
	// retry until the waiter is the one kept waiting.
	var corr int32
	for waiting := false; !waiting; {
		if corr++; corr > 30 {
			t.Fatal("30 requests answered while another connection held the whole budget")
		}
		if _, err := waiter.Write(requestFrame(kmsg.NewPtrApiVersionsRequest(), corr)); err != nil {
			t.Fatal(err)
		}
		_, _, err := readResponse(waiter, time.Second)
		var ne net.Error
		waiting = errors.As(err, &ne) && ne.Timeout()
		if err != nil && !waiting {
			t.Fatal(err)
		}
	}
	holder.Close()
	got, _, err := readResponse(waiter, 30*time.Second)
	if err != nil || got != corr {
		t.Fatalf("after the holder closed: corr %d, err %v; want the answer to %d", got, err, corr)
	}
}

// TestStalledFrameIsDropped: a frame whose body stops arriving is dropped
// after RequestTimeout and its budget goes to the next connection.
func TestStalledFrameIsDropped(t *testing.T) {
	b := startBroker(t, Config{MaxMessageBytes: 1000, MaxBufferedRequestBytes: 16*1000 + requestHeadroom, RequestTimeout: 300 * time.Millisecond})
	staller := dial(t, b.Addr())
	if _, err := staller.Write(append(rawHeader(16*1000+requestHeadroom, 0, 9, -1), 1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	awaitClosed(t, staller)
	c := dial(t, b.Addr())
	if _, err := c.Write(requestFrame(kmsg.NewPtrApiVersionsRequest(), 7)); err != nil {
		t.Fatal(err)
	}
	if corr, _, err := readResponse(c, 30*time.Second); err != nil || corr != 7 {
		t.Fatalf("corr %d, err %v after the stalled frame was dropped", corr, err)
	}
}

// TestFloodOf200HostileConnections: 200 connections at once send what
// crashed or bloated kfake (the 14-byte unknown-key frame, sizes up to
// 4 GiB, 4 KB of random bytes, the largest valid frame left unfinished);
// the process lives, its resident memory grows by far less than the
// claimed sizes, and a sarama producer and consumer still work.
func TestFloodOf200HostileConnections(t *testing.T) {
	b := startBroker(t, Config{RequestTimeout: 2 * time.Second})
	maxFrame := int32(DefaultMaxRequestBytes)
	random := func() []byte {
		p := make([]byte, 4096)
		if _, err := rand.Read(p); err != nil {
			t.Error(err)
		}
		return p
	}
	payloads := func(i int) []byte {
		switch i % 25 {
		case 0, 1, 2, 3, 4:
			return unknownKeyFrame
		case 5, 6, 7, 8, 9:
			return append(rawHeader(0x7fffffff, 0, 9, -1), random()...)
		case 10, 11, 12, 13:
			return append(rawHeader(-1, 0, 9, -1), random()...)
		case 14:
			return append(rawHeader(maxFrame, 0, 9, -1), random()...) // valid size, body never completes
		}
		return random()
	}

	runtime.GC()
	mem := memtest.SamplePeak(t, 20*time.Millisecond)

	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", b.Addr(), 30*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			// The broker may close the connection mid-write: that is the point.
			_, _ = c.Write(payloads(i))
			if err := c.SetReadDeadline(time.Now().Add(2 * time.Minute)); err != nil {
				errs <- err
				return
			}
			_, err = io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				errs <- errors.New("connection " + strconv.Itoa(i) + " still open after 2 minutes")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	const topic = "after.flood"
	p := syncProducer(t, b.Addr(), idempotentConfig())
	for i := range 100 {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(strconv.Itoa(i))}); err != nil {
			t.Fatalf("produce after the flood: %v", err)
		}
	}
	if got := len(minikafkatest.ReadTopic(t, b.Addr(), topic)); got != 100 {
		t.Fatalf("read %d records after the flood, want 100", got)
	}
	base, peak := mem.Stop(t)

	refused := b.Refused()
	if refused[ReasonKey] < 40 || refused[ReasonSize] < 72 {
		t.Errorf("refused %v; want at least 40 unknown keys and 72 bad sizes", refused)
	}
	growth := peak - base
	t.Logf("VmRSS before %d MiB, peak during the flood %d MiB, growth %d MiB; refused %v", base>>20, peak>>20, growth>>20, refused)
	if growth > 512<<20 {
		t.Fatalf("resident memory grew by %d MiB during the flood, want < 512 MiB", growth>>20)
	}
}
