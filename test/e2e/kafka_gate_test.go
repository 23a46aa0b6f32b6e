package e2e

import (
	"crypto/rand"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/test/harness"
)

// TestNodeSurvivesHostileKafkaClients: the embedded broker runs inside the
// node, so what reaches its port reaches the node. 200 connections send
// the 14-byte unknown-api-key frame that killed kfake's process, a 2 GiB
// size header, or 4 KB of random bytes; the node keeps running, publishes
// the next order's event, and exits 0 at the end (the harness checks).
func TestNodeSurvivesHostileKafkaClients(t *testing.T) {
	harness.EmbeddedOnly(t, "it floods the broker listener inside the node, which only the embedded broker has")
	bins := harness.Build(t)
	node := harness.StartNode(t, bins)
	frames := [][]byte{
		{0, 0, 0, 10, 0x03, 0xe8, 0, 0, 0, 0, 0, 1, 0xff, 0xff}, // api key 1000
		{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 9, 0, 0, 0, 1, 0xff, 0xff},
		nil, // random bytes
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", node.Kafka, 30*time.Second)
			if err != nil {
				t.Errorf("dial the embedded broker: %v", err)
				return
			}
			defer c.Close()
			p := frames[i%len(frames)]
			if p == nil {
				p = make([]byte, 4096)
				_, _ = rand.Read(p)
			}
			_, _ = c.Write(p) // the broker may close mid-write
			_ = c.SetReadDeadline(time.Now().Add(time.Minute))
			_, _ = io.Copy(io.Discard, c)
		})
	}
	wg.Wait()
	select {
	case <-node.Exited():
		t.Fatalf("the node died under the flood; log:\n%s", node.Log())
	default:
	}
	id := mustAccept(t, node, "order", "create", "--customer", "flood", "--amount", "2.00")
	awaitKeyed(t, node.Kafka, kafka.Security{}, node.Topic("OrderCreated"), id)
	if log := node.Log(); !strings.Contains(log, "request refused before the broker saw it") {
		t.Errorf("no refusal warning in the node's log:\n%s", log)
	}
}
