package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/outboxnode/outbox/infra/tlsfiles"
	"github.com/outboxnode/outbox/infra/tlsfiles/tlstest"
	"github.com/outboxnode/outbox/internal/poll"
)

type noReplies struct{}

func (noReplies) Send(*actor.PID, any) {}

// serve runs a gRPC server behind a gateway with the TLS of files and
// returns its address. A call that passes TLS reaches the gateway, which
// answers the unary RPCs Unimplemented.
func serve(t *testing.T, files TLSFiles, c *counts) string {
	t.Helper()
	tl, err := LoadTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := New(Config{Address: "127.0.0.1:1", TLS: tl, Counter: c, Replier: noReplies{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(gw.ServerOptions()...)
	remote.RegisterRemotingServer(s, remote.UnimplementedRemotingServer{})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func call(t *testing.T, addr string, opt grpc.DialOption) error {
	t.Helper()
	conn, err := grpc.NewClient(addr, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = remote.NewRemotingClient(conn).ListProcesses(ctx, &remote.ListProcessesRequest{})
	return err
}

func TestMutualTLSAdmitsOnlyTheCAsCertificates(t *testing.T) {
	ca := tlstest.NewCA(t, "test")
	c := &counts{n: map[string]int{}}
	addr := serve(t, TLSFiles(ca.Issue(t, "node")), c)
	load := func(f tlsfiles.Files) *TLS {
		tl, err := LoadTLS(TLSFiles(f))
		if err != nil {
			t.Fatal(err)
		}
		return tl
	}
	client := load(ca.Issue(t, "ops"))
	stranger := load(tlstest.NewCA(t, "stranger").Issue(t, "ops"))

	if err := call(t, addr, client.DialOption()); status.Code(err) != codes.Unimplemented {
		t.Errorf("CA-signed client: %v, want the gateway's Unimplemented", err)
	}
	if err := call(t, addr, stranger.DialOption()); status.Code(err) != codes.Unavailable {
		t.Errorf("stranger's certificate: %v, want Unavailable", err)
	}
	if err := call(t, addr, grpc.WithTransportCredentials(insecure.NewCredentials())); status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext: %v, want Unavailable", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := client.Handshake(ctx, addr); err != nil {
		t.Errorf("handshake of a CA-signed client: %v", err)
	}
	if err := stranger.Handshake(ctx, addr); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("handshake of a stranger: %v, want a certificate error", err)
	}
	// The stranger's and the plaintext calls, and the stranger's handshake;
	// the server counts a refusal after the client has seen it, so wait.
	poll.Eventually(t, 20*time.Second, func() error {
		if n := c.get(ReasonTLS); n < 3 {
			return fmt.Errorf("%d refused TLS handshakes counted, want at least 3", n)
		}
		return nil
	})
}

func TestLoadTLSErrors(t *testing.T) {
	dir := t.TempDir()
	good := tlstest.NewCA(t, "test").Issue(t, "node")
	notPEM := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]TLSFiles{
		"missing key":  {Cert: good.Cert, CA: good.CA},
		"missing file": {Cert: good.Cert, Key: filepath.Join(dir, "nope.pem"), CA: good.CA},
		"CA not PEM":   {Cert: good.Cert, Key: good.Key, CA: notPEM},
		"key of other": {Cert: good.Cert, Key: good.CA, CA: good.CA},
	} {
		if _, err := LoadTLS(f); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if (TLSFiles{}).Enabled() {
		t.Error("empty files enabled")
	}
}
