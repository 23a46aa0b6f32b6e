package hostile

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// TestClusterMemberPortsSurviveGarbage attacks the two ports cluster mode
// adds: the members' remote (hand-built envelopes the members' gateway
// must refuse, protoactor's unary RPCs, random bytes) and the cluster
// health endpoint its peers probe (random bytes, oversized and malformed
// requests, idle connections). After each the member still serves orders
// through its grains and still owns every shard.
func TestClusterMemberPortsSurviveGarbage(t *testing.T) {
	bins := harness.Build(t)
	cql, kafka := harness.StartDevstack(t, bins)
	health := harness.FreeAddr(t)
	members := config.Cluster{Addr: health}.Remote()
	node := harness.StartNode(t, bins, "--scylla-hosts", cql, "--kafka-brokers", kafka, "--migrate", "--consistency", "ONE",
		"--scylla-server-timestamps=true", "--cluster-name", "hostile", "--cluster-addr", health, "--cluster-peers", health,
		"--outbox-shards", "2")
	stillMember := func(t *testing.T) {
		t.Helper()
		mustServe(t, node)
		harness.Eventually(t, 30*time.Second, func() error {
			r := node.Ctl(t, "-o", "json", "cluster")
			var v struct {
				Members []struct{ Address string } `json:"members"`
				Shards  []struct{ Owner string }   `json:"shards"`
			}
			if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil || r.Code != 0 {
				return fmt.Errorf("outboxctl cluster: exit %d, %v: %s", r.Code, err, r.Stderr)
			}
			if len(v.Members) != 1 || v.Members[0].Address != members || len(v.Shards) != 2 {
				return fmt.Errorf("view %+v, want only %s owning 2 shards", v, members)
			}
			for _, s := range v.Shards {
				if s.Owner != members {
					return fmt.Errorf("shard owned by %q, want %s", s.Owner, members)
				}
			}
			return nil
		})
	}
	stillMember(t)

	t.Run("members' remote", func(t *testing.T) {
		create := &messages.CreateOrder{CustomerId: "raw", Amount: "2.00", Currency: "EUR"}
		target := actor.NewPID(members, "partition-activator")
		with := func(edit func(*remote.MessageBatch)) *remote.MessageBatch {
			return edited(envelope(t, target, create), edit)
		}
		attacks := []attack{
			{"unknown type name", with(func(b *remote.MessageBatch) { b.TypeNames[0] = "evil.v1.Crash" }), "unknown_type"},
			{"another address", envelope(t, actor.NewPID("10.9.8.7:8091", "partition-activator"), create), "target"},
			{"type id out of range", with(func(b *remote.MessageBatch) { b.Envelopes[0].TypeId = 9 }), "bad_index"},
			{"negative target", with(func(b *remote.MessageBatch) { b.Envelopes[0].Target = -5 }), "bad_index"},
			{"sender out of range", with(func(b *remote.MessageBatch) { b.Envelopes[0].Sender = 1 }), "bad_index"},
			{"JSON serializer", with(func(b *remote.MessageBatch) { b.Envelopes[0].SerializerId = 1 }), "serializer"},
			{"garbage payload", with(func(b *remote.MessageBatch) { b.Envelopes[0].MessageData = []byte{0x0a, 0xff, 0xff, 0xff} }), "malformed"},
		}
		peer := dialRaw(t, members, true)
		for _, a := range attacks {
			before := metric(t, node, rejectedSeries(a.reason))
			peer.sendBatch(t, a.batch)
			awaitMetric(t, node, rejectedSeries(a.reason), before+1)
		}
		client := remote.NewRemotingClient(dialRaw(t, members, false).conn)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := client.ListProcesses(ctx, &remote.ListProcessesRequest{Pattern: "partition-activator"}); status.Code(err) != codes.Unimplemented {
			t.Errorf("ListProcesses: %v, want Unimplemented", err)
		}
		writeJunk(t, members)
		stillMember(t)
	})

	t.Run("health endpoint", func(t *testing.T) {
		writeJunk(t, health)
		for _, req := range []string{
			"GET /_health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\n\r\n",
			"POST /_health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n",
			"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
			"\x00\x01\x02 / HTTP/9.9\r\n\r\n",
		} {
			conn, err := net.DialTimeout("tcp", health, 10*time.Second)
			if err != nil {
				t.Fatalf("dial %s: %v", health, err)
			}
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(conn, req)
			reply, _ := io.ReadAll(io.LimitReader(conn, 4096))
			_ = conn.Close()
			if strings.Contains(string(reply), " 200 ") {
				t.Errorf("%q answered 200: %q", req[:min(len(req), 40)], reply)
			}
		}
		// Idle connections that never send a request are closed by the
		// member, not kept for ever.
		idle, err := net.DialTimeout("tcp", health, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		_ = idle.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("an idle connection was not closed by the member: %v", err)
		}
		resp, err := http.Get("http://" + health + "/_health")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("a real probe after the attacks: %v %v", resp, err)
		}
		resp.Body.Close()
		stillMember(t)
	})
}

// writeJunk writes random bytes to addr over 20 connections, every other
// one past an HTTP/2 preface (garbage frames on a gRPC connection).
func writeJunk(t *testing.T, addr string) {
	t.Helper()
	for i := range 20 {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		junk := make([]byte, 4096*(i+1))
		_, _ = rand.Read(junk)
		if i%2 == 0 {
			junk = append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), junk...)
		}
		_, _ = conn.Write(junk)
		_ = conn.Close()
	}
}
