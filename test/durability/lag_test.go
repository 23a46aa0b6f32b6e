package durability_test

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/test/harness"
)

// cdcLags returns the cdc_lag_seconds series of a node's /metrics.
func cdcLags(t *testing.T, n *harness.Node) map[string]float64 {
	t.Helper()
	body, _ := n.HTTPGet(t, "/metrics")
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "cdc_lag_seconds{") {
			continue
		}
		series, value, _ := strings.Cut(line, " ")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[series] = v
	}
	return out
}

func maxOf(m map[string]float64) float64 {
	var x float64
	for _, v := range m {
		x = max(x, v)
	}
	return x
}

// TestNodeLagWhileItsReaderCannotRead cuts a node off its store (behind a
// proxy) while events keep being committed to the outbox by another
// client: cdc_lag_seconds rises above 0 and /health reports the cdc
// component degraded with the reason. Once the connection is back, the
// events are published and the lag returns to 0, health to ok.
func TestNodeLagWhileItsReaderCannotRead(t *testing.T) {
	bins := harness.Build(t)
	cql, kafka := harness.StartDevstack(t, bins)
	p := harness.NewProxy(t, cql)
	node := harness.StartNode(t, bins, "--scylla-hosts", p.Addr(), "--kafka-brokers", kafka, "--migrate")
	if r := node.Ctl(t, "order", "create", "--customer", "lag", "--amount", "1.00"); r.Code != 0 {
		t.Fatalf("create: %s", r.Stderr)
	}
	cdcOK := func() error {
		body, _ := node.HTTPGet(t, "/health")
		if !strings.Contains(body, `"cdc":{"status":"ok","detail":"lag 0s`) {
			return fmt.Errorf("health: %s", body)
		}
		if l := maxOf(cdcLags(t, node)); l != 0 {
			return fmt.Errorf("cdc_lag_seconds max %g", l)
		}
		return nil
	}
	harness.Eventually(t, time.Minute, cdcOK)

	host, port, err := net.SplitHostPort(cql)
	if err != nil {
		t.Fatal(err)
	}
	cluster := gocql.NewCluster(host)
	cluster.Port, _ = strconv.Atoi(port)
	cluster.Consistency = gocql.One
	writer, err := cluster.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	var events []string
	commit := func() {
		agg, id := gocql.MustRandomUUID(), gocql.TimeUUID()
		if err := writer.Query(`INSERT INTO `+node.Keyspace+`.outbox_messages (aggregate_id, event_id, aggregate_type, aggregate_version, event_type, payload, headers, created_at)
			VALUES (?, ?, 'order', 1, 'OrderCreated', ?, {'content_type': 'application/json'}, ?)`,
			agg, id, []byte(`{"order_id":"`+agg.String()+`"}`), time.Now()).Exec(); err != nil {
			t.Fatalf("commit an outbox row: %v", err)
		}
		events = append(events, id.String())
	}

	p.SetCut(true)
	harness.Eventually(t, 2*time.Minute, func() error {
		commit()
		body, _ := node.HTTPGet(t, "/health")
		if !strings.Contains(body, `"cdc":{"status":"degraded","detail":"read`) {
			return fmt.Errorf("health: %s", body)
		}
		if l := maxOf(cdcLags(t, node)); l <= 0 {
			return fmt.Errorf("cdc_lag_seconds max %g while the reader is cut off", l)
		}
		return nil
	})
	body, _ := node.HTTPGet(t, "/health")
	t.Logf("cut off: %s; lags %v", body, cdcLags(t, node))

	p.SetCut(false)
	harness.Eventually(t, 2*time.Minute, func() error {
		ids, err := publishedIDs(kafka, node.Topic("OrderCreated"))
		if err != nil {
			return err
		}
		for _, id := range events {
			if !ids[id] {
				return fmt.Errorf("event %s committed during the cut not in Kafka", id)
			}
		}
		return cdcOK()
	})
}
