package gateway_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/outboxnode/outbox/infra/gateway"
	"github.com/outboxnode/outbox/infra/gateway/gatewaytest"
)

// remoting answers ListProcesses, so that a call that gets through TLS
// is told apart from one refused by it.
type remoting struct {
	remote.UnimplementedRemotingServer
}

func (remoting) ListProcesses(context.Context, *remote.ListProcessesRequest) (*remote.ListProcessesResponse, error) {
	return &remote.ListProcessesResponse{}, nil
}

// serve runs a gRPC server with the TLS of files and returns its address.
func serve(t *testing.T, files gateway.TLSFiles) string {
	t.Helper()
	tl, err := gateway.LoadTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(tl.ServerOption())
	remote.RegisterRemotingServer(s, remoting{})
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
	dir := t.TempDir()
	ca := gatewaytest.NewCA(t, dir, "test")
	addr := serve(t, ca.Issue(t, "node"))
	load := func(f gateway.TLSFiles) *gateway.TLS {
		tl, err := gateway.LoadTLS(f)
		if err != nil {
			t.Fatal(err)
		}
		return tl
	}
	client := load(ca.Issue(t, "ops"))
	stranger := load(gatewaytest.NewCA(t, t.TempDir(), "stranger").Issue(t, "ops"))

	if err := call(t, addr, client.DialOption()); err != nil {
		t.Errorf("CA-signed client refused: %v", err)
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
}

func TestLoadTLSErrors(t *testing.T) {
	dir := t.TempDir()
	good := gatewaytest.NewCA(t, dir, "test").Issue(t, "node")
	notPEM := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]gateway.TLSFiles{
		"missing key":  {Cert: good.Cert, CA: good.CA},
		"missing file": {Cert: good.Cert, Key: filepath.Join(dir, "nope.pem"), CA: good.CA},
		"CA not PEM":   {Cert: good.Cert, Key: good.Key, CA: notPEM},
		"key of other": {Cert: good.Cert, Key: good.CA, CA: good.CA},
	} {
		if _, err := gateway.LoadTLS(f); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if (gateway.TLSFiles{}).Enabled() {
		t.Error("empty files enabled")
	}
}
