package minikafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
)

// gateListener is the broker's listener with an outage switch. kfake runs
// one Accept loop per broker for its whole life and stops at the first
// Accept error, so an outage cannot close kfake's listener: instead the gate
// closes the OS socket underneath (new connections are refused), drops the
// accepted connections, and keeps Accept waiting until the socket is back.
// Every accepted connection reaches kfake through a frameConn (guard.go),
// behind TLS when tlsConfig is set.
type gateListener struct {
	bound      string   // the socket's address, re-bound after an outage
	advertised net.Addr // what Addr reports, and so what kfake advertises
	guard      *guard
	tlsConfig  *tls.Config // nil: plaintext

	mu     sync.Mutex
	inner  net.Listener            // nil while down
	wake   chan struct{}           // closed when the gate reopens or closes
	conns  map[*frameConn]struct{} // accepted, not yet closed
	closed bool
}

// listenGate binds addr. advertised may be empty: then the bound address
// is advertised, with an unspecified host (0.0.0.0, ::) as 127.0.0.1.
// Accepted connections pass g; tlsConfig, if not nil, makes them TLS.
func listenGate(addr, advertised string, g *guard, tlsConfig *tls.Config) (*gateListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	bound := ln.Addr().(*net.TCPAddr)
	if advertised == "" {
		host := bound.IP.String()
		if bound.IP.IsUnspecified() {
			host = "127.0.0.1"
		}
		advertised = net.JoinHostPort(host, strconv.Itoa(bound.Port))
	}
	return &gateListener{
		bound:      bound.String(),
		advertised: hostPort(advertised),
		guard:      g,
		tlsConfig:  tlsConfig,
		inner:      ln,
		wake:       make(chan struct{}),
		conns:      make(map[*frameConn]struct{}),
	}, nil
}

// hostPort is a net.Addr for an advertised host:port, which may be a name.
type hostPort string

func (hostPort) Network() string  { return "tcp" }
func (a hostPort) String() string { return string(a) }

func (l *gateListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		inner, wake, closed := l.inner, l.wake, l.closed
		l.mu.Unlock()
		switch {
		case closed:
			return nil, net.ErrClosed
		case inner == nil:
			<-wake
			continue
		}
		c, err := inner.Accept()
		if err != nil {
			if l.replaced(inner) {
				continue // closed by down() or Close(): re-check the state
			}
			return nil, err
		}
		if tc, ok := l.track(inner, c); ok {
			return tc, nil
		}
	}
}

// replaced reports whether inner is no longer the live socket.
func (l *gateListener) replaced(inner net.Listener) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner != inner
}

// track registers c, unless the gate went down while it was being accepted.
func (l *gateListener) track(inner net.Listener, c net.Conn) (*frameConn, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inner != inner {
		c.Close()
		return nil, false
	}
	if l.tlsConfig != nil {
		c = tls.Server(c, l.tlsConfig) // handshakes on kfake's first read
	}
	fc := newFrameConn(c, l.guard, l)
	l.conns[fc] = struct{}{}
	return fc, true
}

func (l *gateListener) down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inner == nil || l.closed {
		return
	}
	l.inner.Close()
	l.inner = nil
	l.dropConnsLocked()
}

func (l *gateListener) up() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return net.ErrClosed
	}
	if l.inner != nil {
		return nil
	}
	ln, err := net.Listen("tcp", l.bound)
	if err != nil {
		return fmt.Errorf("minikafka: listen again on %s: %w", l.bound, err)
	}
	l.inner = ln
	close(l.wake)
	l.wake = make(chan struct{})
	return nil
}

func (l *gateListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var err error
	if l.inner != nil {
		err = l.inner.Close()
		l.inner = nil
	}
	close(l.wake)
	l.dropConnsLocked()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (l *gateListener) Addr() net.Addr { return l.advertised }

// dropConnsLocked closes the sockets; kfake's reader then fails and
// closes its frameConn, which returns the budget it held.
func (l *gateListener) dropConnsLocked() {
	for c := range l.conns {
		c.cancel()
		c.release()
		c.Conn.Close()
	}
	clear(l.conns)
}

// forget unregisters a closed connection so the gate only drops live ones.
func (l *gateListener) forget(c *frameConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
}
