package minikafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/outboxnode/outbox/infra/minikafka/minikafkatest"
	"github.com/outboxnode/outbox/internal/poll"
)

func startBroker(t *testing.T, cfg Config) *Broker {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	b, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// idempotentConfig is the producer configuration the relay uses.
func idempotentConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Net.MaxOpenRequests = 1
	c.Producer.Retry.Backoff = 20 * time.Millisecond
	c.Metadata.Retry.Backoff = 20 * time.Millisecond
	return c
}

func syncProducer(t *testing.T, addr string, c *sarama.Config) sarama.SyncProducer {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{addr}, c)
	if err != nil {
		t.Fatalf("NewSyncProducer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestProduceAndConsumeGroup100k(t *testing.T) {
	const topic, n = "orders.bulk", 100_000
	b := startBroker(t, Config{Topics: []string{topic}})

	producer, err := sarama.NewAsyncProducer([]string{b.Addr()}, idempotentConfig())
	if err != nil {
		t.Fatalf("NewAsyncProducer: %v", err)
	}
	var acked, failed int
	done := make(chan struct{})
	go func() {
		defer close(done)
		succ, errs := producer.Successes(), producer.Errors()
		for succ != nil || errs != nil {
			select {
			case _, ok := <-succ:
				if !ok {
					succ = nil
					continue
				}
				acked++
			case _, ok := <-errs:
				if !ok {
					errs = nil
					continue
				}
				failed++
			}
		}
	}()
	for i := range n {
		producer.Input() <- &sarama.ProducerMessage{
			Topic: topic,
			Key:   sarama.StringEncoder("k" + strconv.Itoa(i%97)),
			Value: sarama.StringEncoder(strconv.Itoa(i)),
		}
	}
	producer.AsyncClose()
	<-done
	if acked != n || failed != 0 {
		t.Fatalf("acked %d, failed %d; want %d acked", acked, failed, n)
	}

	h := &collector{want: n, done: make(chan struct{}), lastSeq: map[int32]int{}, nextOffset: map[int32]int64{}}
	cg, err := sarama.NewConsumerGroup([]string{b.Addr()}, "verify", consumerConfig())
	if err != nil {
		t.Fatalf("NewConsumerGroup: %v", err)
	}
	defer cg.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	consumeErr := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil {
				consumeErr <- err
				return
			}
		}
	}()
	select {
	case <-h.done:
	case err := <-consumeErr:
		t.Fatalf("Consume: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatalf("consumed %d of %d records", h.count(), n)
	}
	cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		t.Fatal(h.err)
	}
	if h.n != n || len(h.lastSeq) != 3 {
		t.Fatalf("consumed %d records from %d partitions, want %d from 3", h.n, len(h.lastSeq), n)
	}
}

func consumerConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	return c
}

// collector checks that each partition delivers consecutive offsets and
// produce-order sequence numbers, and signals done after want records.
type collector struct {
	want int
	done chan struct{}

	mu         sync.Mutex
	n          int
	lastSeq    map[int32]int
	nextOffset map[int32]int64
	err        error
}

func (c *collector) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (c *collector) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *collector) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		c.observe(m)
		sess.MarkMessage(m, "")
	}
	return nil
}

func (c *collector) observe(m *sarama.ConsumerMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq, err := strconv.Atoi(string(m.Value))
	switch {
	case c.err != nil:
	case err != nil:
		c.err = fmt.Errorf("partition %d offset %d: bad value %q", m.Partition, m.Offset, m.Value)
	case m.Offset != c.nextOffset[m.Partition]:
		c.err = fmt.Errorf("partition %d: offset %d, want %d", m.Partition, m.Offset, c.nextOffset[m.Partition])
	case m.Offset > 0 && seq <= c.lastSeq[m.Partition]:
		c.err = fmt.Errorf("partition %d offset %d: sequence %d after %d", m.Partition, m.Offset, seq, c.lastSeq[m.Partition])
	}
	c.lastSeq[m.Partition] = seq
	c.nextOffset[m.Partition] = m.Offset + 1
	c.n++
	if c.n == c.want {
		close(c.done)
	}
}

func TestSeededTopicsAndPartitions(t *testing.T) {
	b := startBroker(t, Config{Partitions: 5, Topics: []string{"OrderCreated", "OrderUpdated"}})
	client, err := sarama.NewClient([]string{b.Addr()}, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, topic := range []string{"OrderCreated", "OrderUpdated"} {
		parts, err := client.Partitions(topic)
		if err != nil || len(parts) != 5 {
			t.Fatalf("%s: partitions %v, err %v; want 5", topic, parts, err)
		}
	}
}

// partitionCount asks the broker how many partitions topic has.
func partitionCount(t *testing.T, addr, topic string) int {
	t.Helper()
	client, err := sarama.NewClient([]string{addr}, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	return len(parts)
}

// metadataV1 asks for topic with a Metadata v1 request and returns the
// topic's error code.
func metadataV1(t *testing.T, addr, topic string) int16 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 1
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	c := dial(t, addr)
	if _, err := c.Write(requestFrame(req, 1)); err != nil {
		t.Fatal(err)
	}
	_, body, err := readResponse(c, 30*time.Second)
	if err != nil {
		t.Fatalf("metadata v1: %v", err)
	}
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	if err := resp.ReadFrom(body); err != nil || len(resp.Topics) != 1 {
		t.Fatalf("metadata v1 response: %d topics, err %v", len(resp.Topics), err)
	}
	return resp.Topics[0].ErrorCode
}

func TestAutoCreateTopics(t *testing.T) {
	t.Run("on by default, one partition as Kafka's num.partitions", func(t *testing.T) {
		b := startBroker(t, Config{})
		if _, _, err := syncProducer(t, b.Addr(), idempotentConfig()).SendMessage(&sarama.ProducerMessage{Topic: "fresh", Value: sarama.StringEncoder("v")}); err != nil {
			t.Fatalf("produce to a new topic: %v", err)
		}
		if n := partitionCount(t, b.Addr(), "fresh"); n != 1 {
			t.Fatalf("auto-created topic has %d partitions, want 1", n)
		}
	})
	t.Run("AutoCreatePartitions", func(t *testing.T) {
		b := startBroker(t, Config{AutoCreatePartitions: 4})
		if _, _, err := syncProducer(t, b.Addr(), idempotentConfig()).SendMessage(&sarama.ProducerMessage{Topic: "fresh", Value: sarama.StringEncoder("v")}); err != nil {
			t.Fatalf("produce to a new topic: %v", err)
		}
		if n := partitionCount(t, b.Addr(), "fresh"); n != 4 {
			t.Fatalf("auto-created topic has %d partitions, want 4", n)
		}
	})
	// Metadata v1 (kafka-python 2.0.2's) has no AllowAutoTopicCreation
	// field: Kafka creates the topic all the same, unless auto-creation is
	// off on the broker.
	for _, disabled := range []bool{false, true} {
		t.Run(fmt.Sprintf("metadata v1, auto-creation disabled %v", disabled), func(t *testing.T) {
			b := startBroker(t, Config{DisableAutoCreateTopics: disabled})
			got := metadataV1(t, b.Addr(), "old.client")
			want := kerr.UnknownTopicOrPartition.Code
			if !disabled {
				want = 0
			}
			if got != want {
				t.Fatalf("topic error %d, want %d", got, want)
			}
			if !disabled {
				if n := partitionCount(t, b.Addr(), "old.client"); n != 1 {
					t.Fatalf("%d partitions, want 1", n)
				}
			}
		})
	}
	t.Run("disabled", func(t *testing.T) {
		b := startBroker(t, Config{DisableAutoCreateTopics: true})
		c := idempotentConfig()
		c.Producer.Retry.Max = 1
		c.Metadata.Retry.Max = 1
		_, _, err := syncProducer(t, b.Addr(), c).SendMessage(&sarama.ProducerMessage{Topic: "missing", Value: sarama.StringEncoder("v")})
		if !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			t.Fatalf("err = %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
		}
	})
}

func TestBrokerRejectsBatchesAboveMaxMessageBytes(t *testing.T) {
	b := startBroker(t, Config{MaxMessageBytes: 1000, Topics: []string{"t"}})
	p := syncProducer(t, b.Addr(), idempotentConfig()) // client limit 1 MB: the broker decides
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "t", Value: sarama.StringEncoder("small")}); err != nil {
		t.Fatalf("small record: %v", err)
	}
	_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "t", Value: sarama.ByteEncoder(make([]byte, 2000))})
	if !errors.Is(err, sarama.ErrMessageSizeTooLarge) {
		t.Fatalf("err = %v, want MESSAGE_TOO_LARGE", err)
	}
}

func TestBusyPortIsAClearError(t *testing.T) {
	b := startBroker(t, Config{})
	_, err := Start(context.Background(), Config{Addr: b.Addr()})
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), b.Addr()) {
		t.Fatalf("err = %v, want address in use naming %s", err, b.Addr())
	}
}

func TestAdvertisedAddress(t *testing.T) {
	b := startBroker(t, Config{Addr: "0.0.0.0:0"})
	host, port, err := net.SplitHostPort(b.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %q, want 127.0.0.1 with the bound port", b.Addr())
	}
	client, err := sarama.NewClient([]string{b.Addr()}, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if brokers := client.Brokers(); len(brokers) != 1 || brokers[0].Addr() != b.Addr() {
		t.Fatalf("metadata advertises %v, want %s", brokers, b.Addr())
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Addr: "no-port"},
		{AdvertisedAddr: "no-port"},
		{Partitions: -1},
		{MaxMessageBytes: -5},
		{AutoCreatePartitions: -1},
		{MaxRequestBytes: 1000},
		{MaxRequestBytes: 200 << 20},
		{MaxBufferedRequestBytes: 10},
		{RequestTimeout: -time.Second},
		{Users: []User{{Mechanism: "GSSAPI", Name: "u", Password: "p"}}},
		{Users: []User{{Mechanism: "PLAIN", Name: "u"}}},
		{TLS: &tls.Config{}},
		{Topics: []string{"bad topic"}},
	} {
		if _, err := Start(context.Background(), cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Start(%+v) err = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

func TestOutageAndRecovery(t *testing.T) {
	const topic = "OrderCreated"
	b := startBroker(t, Config{Topics: []string{topic}})
	c := idempotentConfig()
	c.Producer.Retry.Max = 2
	c.Metadata.Retry.Max = 1
	c.Net.DialTimeout = time.Second
	p := syncProducer(t, b.Addr(), c)
	send := func(v string) error {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("k"), Value: sarama.StringEncoder(v)})
		return err
	}
	if err := send("before"); err != nil {
		t.Fatalf("before outage: %v", err)
	}

	if err := b.SetUnavailable(true); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
		conn.Close()
		t.Fatal("dial succeeded during the outage, want connection refused")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial err = %v, want connection refused", err)
	}
	err := send("during")
	if err == nil {
		t.Fatal("produce succeeded during the outage")
	}
	// A dead broker shows up to sarama as a connection error or as running
	// out of brokers, depending on where the producer was when it died.
	var netErr net.Error
	if !errors.Is(err, sarama.ErrOutOfBrokers) && !errors.Is(err, sarama.ErrNotConnected) && !errors.As(err, &netErr) && !errors.Is(err, io.EOF) &&
		!errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("outage err = %v (%T), want a connection-level error", err, err)
	}
	t.Logf("producer error during outage: %v", err)

	if err := b.SetUnavailable(false); err != nil {
		t.Fatal(err)
	}
	poll.Eventually(t, 30*time.Second, func() error { return send("after") })
	var values []string
	for _, m := range minikafkatest.ReadTopic(t, b.Addr(), topic) {
		values = append(values, string(m.Value))
	}
	if values[0] != "before" || values[len(values)-1] != "after" {
		t.Fatalf("values = %v, want the data from before the outage kept and the new record last", values)
	}
}

func kcatPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat not found on PATH: run make deps")
	}
	return path
}

func TestKcat(t *testing.T) {
	kcat := kcatPath(t)
	const topic = "OrderCancelled"
	b := startBroker(t, Config{Topics: []string{topic}})
	p := syncProducer(t, b.Addr(), idempotentConfig())
	for i := range 10 {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("order-1"), Value: sarama.StringEncoder("event-" + strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}

	out, err := exec.Command(kcat, "-b", b.Addr(), "-L", "-t", topic).CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `topic "`+topic+`" with 3 partitions`) {
		t.Fatalf("kcat -L output lacks the topic with 3 partitions:\n%s", out)
	}

	out, err = exec.Command(kcat, "-b", b.Addr(), "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k=%s\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 10 {
		t.Fatalf("kcat read %d records, want 10:\n%s", len(lines), out)
	}
	for i, l := range lines {
		if want := "order-1=event-" + strconv.Itoa(i); l != want {
			t.Fatalf("record %d = %q, want %q (one key: one partition, in order)", i, l, want)
		}
	}
}

func TestTopicUnavailable(t *testing.T) {
	b := startBroker(t, Config{Topics: []string{"down", "up"}})
	c := idempotentConfig()
	c.Producer.Retry.Max = 1
	c.Metadata.Retry.Max = 1
	p := syncProducer(t, b.Addr(), c)
	send := func(topic string) error {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("v")})
		return err
	}
	b.SetTopicUnavailable("down", true)
	if err := send("down"); !errors.Is(err, sarama.ErrLeaderNotAvailable) {
		t.Fatalf("faulted topic: err = %v, want LEADER_NOT_AVAILABLE", err)
	}
	if err := send("up"); err != nil {
		t.Fatalf("other topic must keep working: %v", err)
	}
	b.SetTopicUnavailable("down", false)
	// sarama's own partition breaker may reject for up to 10 s after the failures.
	poll.Eventually(t, 30*time.Second, func() error { return send("down") })
}
