// Package minikafka is the Kafka broker of the embedded (no-Docker) setup:
// infra/kafka's producer -> minikafka -> consumers such as kcat. It runs one
// franz-go kfake broker in-process on a fixed address, with seeded topics, a
// broker message size limit, optional SASL users and TLS, and an outage
// switch for fault tests. kfake trusts its clients, so every connection
// passes a gate first (guard.go): request frames with a size, api key or
// version kfake cannot take close the connection before kfake reads them,
// and a budget bounds the request bytes held across connections.
package minikafka

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Broker is a running embedded broker. Close it when done; its methods are
// safe for concurrent use.
type Broker struct {
	cluster *kfake.Cluster
	ln      *gateListener

	mu     sync.Mutex
	faults map[string]*kfake.FaultHandle // topics made unavailable
}

// Start listens on cfg.Addr (a busy port is an error wrapping
// syscall.EADDRINUSE) and starts the broker. ctx bounds only the start-up;
// the broker runs until Close.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("minikafka: start: %w", err)
	}
	apis, err := servedAPIs()
	if err != nil {
		return nil, fmt.Errorf("minikafka: %w", err)
	}
	var mechanisms []string
	for _, u := range cfg.Users {
		if !slices.Contains(mechanisms, u.Mechanism) {
			mechanisms = append(mechanisms, u.Mechanism)
		}
	}
	g := newGuard(frameRules{maxSize: int32(cfg.MaxRequestBytes), apis: apis}, cfg.MaxBufferedRequestBytes, cfg.RequestTimeout, mechanisms, cfg.Logger)
	ln, err := listenGate(cfg.Addr, cfg.AdvertisedAddr, g, cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("minikafka: %w", err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		// kfake asks for 127.0.0.1:0; we hand it the listener bound to
		// cfg.Addr, whose Addr is what the broker advertises in metadata.
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }),
		kfake.ClusterID("minikafka"),
		kfake.DefaultNumPartitions(cfg.AutoCreatePartitions),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(cfg.MaxMessageBytes)}),
		kfake.WithLogger(slogAdapter{cfg.Logger}),
	}
	if len(cfg.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(cfg.Partitions), cfg.Topics...))
	}
	if !cfg.DisableAutoCreateTopics {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if len(cfg.Users) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range cfg.Users {
			opts = append(opts, kfake.Superuser(u.Mechanism, u.Name, u.Password.Reveal()))
		}
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("minikafka: start broker: %w", err)
	}
	everyRequest(cluster, int16(kmsg.Metadata), allowAutoCreateBeforeV4)
	everyRequest(cluster, int16(kmsg.SASLAuthenticate), refuseEmptyPlainPassword)
	cfg.Logger.Info("kafka broker started", slog.String("addr", ln.Addr().String()),
		slog.Int("partitions", cfg.Partitions), slog.Int("auto_create_partitions", cfg.AutoCreatePartitions),
		slog.Bool("sasl", len(cfg.Users) > 0), slog.Bool("tls", cfg.TLS != nil), slog.Int("max_request_bytes", cfg.MaxRequestBytes))
	return &Broker{cluster: cluster, ln: ln, faults: make(map[string]*kfake.FaultHandle)}, nil
}

// Refused returns how many request frames the gate refused since Start,
// by reason (the Reason* constants); each closed its connection.
func (b *Broker) Refused() map[string]uint64 { return b.ln.guard.counts() }

// Addr returns the advertised host:port clients bootstrap from.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// SetUnavailable simulates a broker outage and its recovery without losing
// data. While unavailable the port refuses connections and every open client
// connection is dropped, as when the broker process is down: producers see
// connection errors and then "run out of available brokers". Going back up
// listens again on the same address; the error says why that failed.
func (b *Broker) SetUnavailable(down bool) error {
	if down {
		b.ln.down()
		return nil
	}
	return b.ln.up()
}

// SetTopicUnavailable makes one topic leaderless, or heals it: every
// request naming the topic (metadata, produce, fetch...) is answered with
// LEADER_NOT_AVAILABLE, as when its partition leaders are down, while other
// topics keep working.
func (b *Broker) SetTopicUnavailable(topic string, down bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h, faulted := b.faults[topic]
	switch {
	case down && !faulted:
		b.faults[topic] = b.cluster.Fault(kfake.Fault{Topic: topic, Err: kerr.LeaderNotAvailable, Count: -1})
	case !down && faulted:
		h.Remove()
		delete(b.faults, topic)
	}
}

// Close stops the broker and drops its connections and data.
func (b *Broker) Close() {
	b.cluster.Close()
	b.ln.Close()
}

// slogAdapter forwards kfake's warnings and errors; its info and debug
// lines are per request and too chatty for a node log.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Logf(level kfake.LogLevel, format string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		a.l.Error("kfake: " + fmt.Sprintf(format, args...))
	case kfake.LogLevelWarn:
		a.l.Warn("kfake: " + fmt.Sprintf(format, args...))
	}
}
