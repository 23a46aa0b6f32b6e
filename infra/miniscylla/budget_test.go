package miniscylla

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/frame"
	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"

	"github.com/outboxnode/outbox/infra/internal/memtest"
	"github.com/outboxnode/outbox/internal/poll"
)

func TestBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBudget(4 << 20) // reserve 1 MiB: large frames share 3 MiB
		ctx := context.Background()
		if err := b.acquire(ctx, 3<<20); err != nil {
			t.Fatal(err)
		}
		// A large frame waits; a small one still fits in the reserve.
		large := make(chan error, 1)
		go func() { large <- b.acquire(ctx, 2<<20) }()
		if err := b.acquire(ctx, smallFrameMax); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the large acquire is blocked for good, or has returned
		select {
		case err := <-large:
			t.Fatalf("a large reservation was granted beyond the large share: %v", err)
		default:
		}
		// A waiter whose context ends gives up and leaves no trace.
		cctx, cancel := context.WithCancel(ctx)
		cancelled := make(chan error, 1)
		go func() { cancelled <- b.acquire(cctx, 1<<20+1) }()
		synctest.Wait()
		if n := len(b.waiters); n != 2 {
			t.Fatalf("%d waiters, want the large and the cancellable one", n)
		}
		cancel()
		if err := <-cancelled; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled acquire returned %v", err)
		}
		b.release(3 << 20)
		if err := <-large; err != nil {
			t.Fatal(err)
		}
		b.release(2 << 20)
		b.release(smallFrameMax)
		if got := b.inUse(); got != 0 {
			t.Fatalf("%d bytes still reserved after every release", got)
		}
	})
}

// TestMemoryBoundUnderAbuse opens 200 connections at once: half send
// random bytes or headers claiming large bodies before STARTUP, half
// complete STARTUP and then send an 8 MiB frame of garbage each (800 MiB
// claimed at once). Meanwhile a gocql client keeps
// querying, and must keep succeeding. The process's RSS, sampled
// throughout, must grow by less than MaxInFlightBytes + 128 MiB (times
// memtest.RaceFactor under -race); with a bound of 1 GiB it grew by 830 MiB. Every
// reservation must be returned at the end.
func TestMemoryBoundUnderAbuse(t *testing.T) {
	const (
		limit    = 16 << 20
		conns    = 200
		bodySize = 8 << 20
		frames   = 1
	)
	// Generous deadlines: 200 connections share a loaded machine, and
	// this test is about memory, not about slow clients.
	s, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", MaxInFlightBytes: limit, HandshakeTimeout: 2 * time.Minute, FrameTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sess := newSession(t, s.Addr())
	mem := memtest.SamplePeak(t, 20*time.Millisecond)

	garbage := make([]byte, bodySize)
	rand.NewChaCha8([32]byte{1}).Read(garbage) //nolint:errcheck // never fails
	var wg sync.WaitGroup
	var served atomic.Int64
	for i := range conns {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			if i%2 == 0 {
				abuseBeforeStartup(t, s.Addr(), rng)
				return
			}
			served.Add(int64(sendLargeGarbage(t, s.Addr(), garbage, frames)))
		})
	}
	attackDone := make(chan struct{})
	go func() { wg.Wait(); close(attackDone) }()
	queries := 0
	for done := false; !done; {
		select {
		case <-attackDone:
			done = true
		default:
		}
		var version string
		if err := sess.Query("SELECT release_version FROM system.local WHERE key = 'local'").Scan(&version); err != nil {
			t.Errorf("gocql during the abuse (after %d queries): %v", queries, err)
			<-attackDone
			break
		}
		queries++
	}
	before, peak := mem.Stop(t)
	growth, bound := peak-before, int64(limit+128<<20)*memtest.RaceFactor
	t.Logf("RSS before %d MiB, peak %d MiB (growth %d MiB, bound %d MiB); %d garbage frames of %d MiB answered; %d gocql queries during the abuse",
		before>>20, peak>>20, growth>>20, bound>>20, served.Load(), bodySize>>20, queries)
	if growth >= bound {
		t.Fatalf("RSS grew by %d MiB, more than %d MiB", growth>>20, bound>>20)
	}
	if served.Load() != conns/2*frames {
		t.Fatalf("%d garbage frames answered, want %d", served.Load(), conns/2*frames)
	}
	poll.Eventually(t, testTimeout, poll.True("reservations returned", func() bool { return s.budget.inUse() == 0 }))

	// A frame larger than the budget can ever grant is refused outright.
	c := dial(t, s.Addr())
	c.startup()
	c.write(rawFrame(0, 1, primitive.OpCodeQuery, limit, nil))
	if _, ok := c.recv().Body.Message.(*message.ProtocolError); !ok {
		t.Fatal("a frame above the in-flight bound not refused")
	}
	c.expectClosed()
}

// abuseBeforeStartup sends random bytes, or a header claiming a large body,
// on a connection that never completed STARTUP.
func abuseBeforeStartup(t *testing.T, addr string, rng *rand.Rand) {
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Errorf("dial: %v", err)
		return
	}
	defer nc.Close()
	var b []byte
	if rng.IntN(2) == 0 {
		b = make([]byte, 1+rng.IntN(64<<10))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
	} else {
		b = rawFrame(0, 1, primitive.OpCodeQuery, int32(32<<20+rng.IntN(1<<20)), []byte("SELECT"))
	}
	nc.Write(b) //nolint:errcheck // the server may hang up first
	nc.SetReadDeadline(time.Now().Add(testTimeout))
	nc.Read(make([]byte, 512)) //nolint:errcheck // any answer, or none, is fine
}

// sendLargeGarbage completes STARTUP, then sends n QUERY frames with body
// as their body and reads their answers; it returns how many were answered
// with an error (random bytes are never a valid QUERY).
func sendLargeGarbage(t *testing.T, addr string, body []byte, n int) int {
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Errorf("dial: %v", err)
		return 0
	}
	defer nc.Close()
	c := &rawClient{t: t, nc: nc, codec: frame.NewCodec()}
	c.send(1, message.NewStartup())
	// Generous deadlines: 200 connections share a loaded machine.
	nc.SetReadDeadline(time.Now().Add(2 * time.Minute))
	if f, err := c.codec.DecodeFrame(nc); err != nil {
		t.Errorf("STARTUP: %v", err)
		return 0
	} else if _, ok := f.Body.Message.(*message.Ready); !ok {
		t.Errorf("STARTUP answered %v", f.Body.Message)
		return 0
	}
	answered := 0
	for i := range n {
		// Header and the shared body in one writev: the test's own memory stays flat.
		frame := net.Buffers{rawFrame(0, int16(10+i), primitive.OpCodeQuery, int32(len(body)), nil), body}
		go frame.WriteTo(nc) //nolint:errcheck // a failure shows as a missing answer
		nc.SetReadDeadline(time.Now().Add(2 * time.Minute))
		f, err := c.codec.DecodeFrame(nc)
		if err != nil {
			t.Errorf("answer to a garbage frame: %v", err)
			return answered
		}
		if _, ok := f.Body.Message.(message.Error); ok {
			answered++
		}
	}
	return answered
}

// TestCompressedFrameReservesItsDecompressedSize: a compressed frame also
// reserves the size it declares decompressed. When that does not fit
// within FrameTimeout the request is answered OVERLOADED and the
// connection goes on; once the budget is free the same request runs, and
// every byte it reserved is returned.
func TestCompressedFrameReservesItsDecompressedSize(t *testing.T) {
	s, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", MaxInFlightBytes: 4 << 20, FrameTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	held := s.budget.largest() - 100<<10 // someone else's large frames
	if err := s.budget.acquire(context.Background(), held); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.Addr())
	c.startup("COMPRESSION", "lz4")
	c.useCompression("lz4")
	// 1 MiB of statement, compressing to a few KiB.
	query := &message.Query{Query: "SELECT release_version FROM system.local" + strings.Repeat(" ", 1<<20),
		Options: &message.QueryOptions{Consistency: primitive.ConsistencyLevelOne}}
	if resp, ok := c.roundTrip(2, query).(*message.Overloaded); !ok {
		t.Fatalf("answered %v, want OVERLOADED", resp)
	}
	s.budget.release(held)
	if resp, ok := c.roundTrip(3, query).(*message.RowsResult); !ok {
		t.Fatalf("answered %v once the budget is free, want rows", resp)
	}
	poll.Eventually(t, testTimeout, poll.True("every reservation returned", func() bool { return s.budget.inUse() == 0 }))
}
