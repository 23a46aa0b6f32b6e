package config

import (
	"net"
	"strconv"
)

// Cluster makes the node a member of a cluster (cluster mode) when Name is
// set: order grains placed over the members, the outbox split into
// Scylla.OutboxShards fenced shards relayed by the members. Without a name
// the node runs alone.
type Cluster struct {
	// Name is the cluster's; members of another are ignored.
	Name string
	// Addr is host:port of this member's health endpoint, which its peers
	// probe (the probe timings are infra/membership's defaults).
	Addr string
	// Peers are the members' Addr values, this one's possibly among them.
	Peers []string
	// RemoteAddr is the members' private Proto.Actor remote (grain traffic
	// only; clients use Node.RemoteAddr). Empty: Addr's host, port + 1.
	RemoteAddr string
}

// DefaultOutboxShards is K in cluster mode when --outbox-shards is not set.
const DefaultOutboxShards = 8

// Enabled reports whether the node runs in cluster mode.
func (c Cluster) Enabled() bool { return c.Name != "" }

// Remote returns the members' remote address: RemoteAddr, or Addr's host
// with port + 1.
func (c Cluster) Remote() string {
	if c.RemoteAddr != "" {
		return c.RemoteAddr
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return ""
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}

// validate checks cluster mode against the rest of the configuration.
func (c Config) validateCluster(bad func(field, format string, args ...any)) {
	cl := c.Cluster
	if !cl.Enabled() {
		if cl.Addr != "" || len(cl.Peers) > 0 || cl.RemoteAddr != "" {
			bad("cluster-name", "--cluster-addr, --cluster-peers and --cluster-remote-addr need --cluster-name")
		}
		return
	}
	hostPort(bad, "cluster-addr", cl.Addr)
	for _, p := range cl.Peers {
		hostPort(bad, "cluster-peers", p)
	}
	hostPort(bad, "cluster-remote-addr", cl.Remote())
	if cl.Remote() == c.Node.RemoteAddr || cl.Remote() == cl.Addr {
		bad("cluster-remote-addr", "%q is taken by --remote-addr or --cluster-addr", cl.Remote())
	}
	if c.Scylla.OutboxShards < 1 {
		bad("outbox-shards", "cluster mode needs 1 to %d shards, got %d", MaxOutboxShards, c.Scylla.OutboxShards)
	}
	if c.EmbeddedScylla() || c.EmbeddedKafka() {
		bad("cluster-name", "cluster mode needs a shared store and broker: set --scylla-hosts and --kafka-brokers")
	}
	if c.Relay.Source != SourceCDC {
		bad("source", "cluster mode relays the outbox shards' CDC logs; --source %s is for a node alone", c.Relay.Source)
	}
}
