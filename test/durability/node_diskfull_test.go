package durability_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/outboxnode/outbox/test/harness"
)

// publishedIDs reads topic from its start on broker and returns the
// event_id headers of its records, once every partition is read up to its
// high-water mark.
func publishedIDs(broker, topic string) (map[string]bool, error) {
	client, err := sarama.NewClient([]string{broker}, sarama.NewConfig())
	if err != nil {
		return nil, err
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	partitions, err := consumer.Partitions(topic)
	if err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		ids  = map[string]bool{}
		errs []error
		wg   sync.WaitGroup
	)
	for _, p := range partitions {
		hwm, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, err
		}
		if hwm == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, err
		}
		wg.Go(func() {
			defer pc.Close()
			timeout := time.After(15 * time.Second)
			for {
				select {
				case m := <-pc.Messages():
					mu.Lock()
					for _, h := range m.Headers {
						if string(h.Key) == "event_id" {
							ids[string(h.Value)] = true
						}
					}
					mu.Unlock()
					if m.Offset+1 >= hwm {
						return
					}
				case <-timeout:
					mu.Lock()
					errs = append(errs, fmt.Errorf("partition %d not read up to %d", p, hwm))
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return ids, nil
}

// TestNodeDiskFullPublishesEveryAcknowledgedEvent runs an embedded-mode
// node whose store directory is a tmpfs that a ballast file nearly fills:
// order commands are then rejected with the full disk named, and nothing
// is committed for them; once the ballast is deleted commands are accepted
// again without a restart, every acknowledged event reaches Kafka, and the
// cdc component reports ok with lag 0.
func TestNodeDiskFullPublishesEveryAcknowledgedEvent(t *testing.T) {
	harness.EmbeddedOnly(t, "it fills the disk under the node's embedded store")
	bins := harness.Build(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "miniscylla")
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}
	mountTmpfs(t, 4<<20, store)
	node := harness.StartNode(t, bins, "--data-dir", dir)
	ballast := fillUpTo(t, store, 48<<10)

	var acked []string
	create := func() (ok bool, stderr string) {
		r := node.Ctl(t, "-o", "json", "order", "create", "--customer", "disk", "--amount", "1.00", "--item", "SKU-"+strings.Repeat("x", 60)+":1")
		if r.Code != 0 {
			return false, r.Stderr
		}
		var out struct {
			EventID string `json:"eventId"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out.EventID == "" {
			t.Fatalf("create answered %q: %v", r.Stdout, err)
		}
		acked = append(acked, out.EventID)
		return true, ""
	}
	rejected := 0
	for i := 0; rejected < 3; i++ {
		if i > 2000 {
			t.Fatalf("commands still accepted after %d orders on a full disk", len(acked))
		}
		if ok, stderr := create(); !ok {
			if !strings.Contains(stderr, "no space left on device") {
				t.Fatalf("rejection does not name the full disk: %s", stderr)
			}
			if rejected == 0 {
				t.Logf("rejected: %s", stderr)
			}
			rejected++
		}
	}
	t.Logf("disk full after %d accepted orders", len(acked))

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, time.Minute, func() error {
		if ok, stderr := create(); !ok {
			return fmt.Errorf("create after space came back: %s", stderr)
		}
		return nil
	})
	for range 5 {
		if ok, stderr := create(); !ok {
			t.Fatalf("create after space came back: %s", stderr)
		}
	}
	harness.Eventually(t, 2*time.Minute, func() error {
		ids, err := publishedIDs(node.Kafka, "OrderCreated")
		if err != nil {
			return err
		}
		missing := 0
		for _, id := range acked {
			if !ids[id] {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d acknowledged events not in Kafka", missing, len(acked))
		}
		return nil
	})
	// A rejected command committed nothing: one order and one event per
	// accepted command.
	s := node.Session(t)
	for _, table := range []string{"orders", "outbox_messages"} {
		var n int
		if err := s.Query(`SELECT COUNT(*) FROM orders_ks.`+table, nil).Scan(&n); err != nil || n != len(acked) {
			t.Errorf("%s holds %d rows (%v), want one per accepted command (%d)", table, n, err, len(acked))
		}
	}
	harness.Eventually(t, time.Minute, func() error {
		body, _ := node.HTTPGet(t, "/health")
		if !strings.Contains(body, `"cdc":{"status":"ok","detail":"lag 0s`) {
			return fmt.Errorf("health: %s", body)
		}
		return nil
	})
}
