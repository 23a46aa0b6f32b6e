package minikafka

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// servedAPIs returns the api keys and versions kfake serves, asked once per
// process from a private in-memory kfake broker: kfake keeps its handler
// table unexported, and its ApiVersions answer is the table itself, so the
// gate refuses exactly what kfake cannot handle.
var servedAPIs = sync.OnceValues(askServedAPIs)

func askServedAPIs() (map[int16]versionRange, error) {
	ln := newPipeListener()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }))
	if err != nil {
		return nil, fmt.Errorf("probe kfake's api versions: %w", err)
	}
	defer cluster.Close()
	client, server := net.Pipe()
	defer client.Close()
	if err := ln.hand(server); err != nil {
		return nil, fmt.Errorf("probe kfake's api versions: %w", err)
	}
	if err := client.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, fmt.Errorf("probe kfake's api versions: %w", err)
	}
	resp, err := roundTripApiVersions(client)
	if err != nil {
		return nil, fmt.Errorf("probe kfake's api versions: %w", err)
	}
	apis := make(map[int16]versionRange, len(resp.ApiKeys))
	for _, k := range resp.ApiKeys {
		apis[k.ApiKey] = versionRange{min: k.MinVersion, max: k.MaxVersion}
	}
	return apis, nil
}

// roundTripApiVersions sends ApiVersions v0 on conn and reads the answer.
func roundTripApiVersions(conn net.Conn) (*kmsg.ApiVersionsResponse, error) {
	if _, err := conn.Write(apiVersionsFrame(0, 1)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		return nil, err
	}
	if len(body) < 4 {
		return nil, fmt.Errorf("short ApiVersions response (%d bytes)", len(body))
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	if err := resp.ReadFrom(body[4:]); err != nil { // after the correlation id
		return nil, err
	}
	if resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		return nil, fmt.Errorf("ApiVersions answered error %d with %d keys", resp.ErrorCode, len(resp.ApiKeys))
	}
	return resp, nil
}

// pipeListener hands in-memory connections to kfake's Accept loop.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) hand(c net.Conn) error {
	select {
	case l.conns <- c:
		return nil
	case <-l.closed:
		return net.ErrClosed
	}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return hostPort("127.0.0.1:0") }
