package harness

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a server; Cut breaks them, as a
// network partition between a client and that server would.
type Proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn

	// delay holds back every byte from a client to the server.
	delay time.Duration
}

// NewProxy listens on a free local port and forwards to target until
// cleanup.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	return NewDelayProxy(t, target, 0)
}

// NewDelayProxy is NewProxy delivering each request byte delay after the
// client sent it, as a slow network or a loaded client machine would.
func NewDelayProxy(t testing.TB, target string, delay time.Duration) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, delay: delay}
	t.Cleanup(func() { ln.Close(); p.SetCut(true) })
	go p.serve()
	return p
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		up, err := net.Dial("tcp", p.target)
		if p.cut || err != nil {
			p.mu.Unlock()
			c.Close()
			if up != nil {
				up.Close()
			}
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { p.forward(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// forward copies src to dst, each chunk no earlier than p.delay after it
// was read, in order.
func (p *Proxy) forward(dst, src net.Conn) {
	if p.delay == 0 {
		_, _ = io.Copy(dst, src)
		return
	}
	type chunk struct {
		b  []byte
		at time.Time
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				chunks <- chunk{b[:n], time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	for range chunks { // let the reading goroutine end with src
	}
}

// SetCut closes every connection and refuses new ones (true), or lets
// connections through again (false).
func (p *Proxy) SetCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}
