// Package relay runs the relay's acceptance tests end to end: outbox-node
// (and devstack) as built binaries, commands over Proto.Actor remote,
// records read back with a sarama consumer, the store read with gocql.
package relay

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// startNode starts outbox-node (harness.StartNode) and logs its output
// when the test fails.
func startNode(t *testing.T, bins harness.Binaries, flags ...string) *harness.Node {
	t.Helper()
	n := harness.StartNode(t, bins, flags...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("outbox-node %s log:\n%s", n.Remote, n.Log())
		}
	})
	return n
}

// commandTimeout bounds the wait for a command's reply.
const commandTimeout = 10 * time.Second

// accepted is one accepted command: its event and when the reply came.
type accepted struct {
	orderID, eventID string
	version          int32
	at               time.Time
}

// lifecycle creates an order, updates it and cancels it: three events,
// versions 1 to 3. A rejected follow-up command is tried too (it must
// write nothing). It stops at the first failure.
func lifecycle(node string, i int) ([]accepted, error) {
	var out []accepted
	a, err := harness.Command(node, &messages.CreateOrder{CustomerId: fmt.Sprintf("c-%d", i), Amount: "10.00", Currency: "EUR",
		Items: []*messages.Item{{Sku: "SKU-1", Quantity: 1}}}, commandTimeout)
	if err != nil {
		return out, err
	}
	out = append(out, accepted{a.GetOrderId(), a.GetEventId(), a.GetVersion(), time.Now()})
	amount := "12.50"
	for _, msg := range []proto.Message{
		&messages.UpdateOrder{OrderId: a.GetOrderId(), Amount: &amount},
		&messages.CancelOrder{OrderId: a.GetOrderId(), Reason: "test"},
	} {
		r, err := harness.Command(node, msg, commandTimeout)
		if err != nil {
			return out, err
		}
		out = append(out, accepted{r.GetOrderId(), r.GetEventId(), r.GetVersion(), time.Now()})
	}
	if _, err := harness.Command(node, &messages.UpdateOrder{OrderId: a.GetOrderId(), Amount: &amount}, commandTimeout); err == nil {
		return out, fmt.Errorf("update of cancelled order %s accepted", a.GetOrderId())
	}
	return out, nil
}

// runLifecycles runs n lifecycles over workers concurrent clients and
// returns every accepted command; any failure fails the test.
func runLifecycles(t *testing.T, node string, n, workers int) []accepted {
	t.Helper()
	all, err := lifecycles(node, n, workers)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// lifecycles runs n lifecycles over workers concurrent clients and returns
// every accepted command, and the first failure.
func lifecycles(node string, n, workers int) ([]accepted, error) {
	var (
		mu   sync.Mutex
		all  []accepted
		errs []error
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				got, err := lifecycle(node, i)
				mu.Lock()
				all = append(all, got...)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		return all, fmt.Errorf("%d lifecycles failed, first: %w", len(errs), errs[0])
	}
	return all, nil
}

// metric reads one unlabelled sample from the node's /metrics.
func metric(t *testing.T, node *harness.Node, name string) float64 {
	t.Helper()
	body, code := node.HTTPGet(t, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}
