package compose

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/messages"
)

// clusterProfile runs the cluster's members (docs/cluster.md, "Three
// nodes with docker-compose"); clusterSize is how many it documents.
const (
	clusterProfile = "cluster"
	clusterSize    = 3
)

// member is one cluster member of the compose file and its configuration.
type member struct {
	name string
	svc  types.ServiceConfig
	cfg  config.Config
}

// clusterMembers returns the node services that run in cluster mode.
func clusterMembers(t *testing.T, p *types.Project) []member {
	t.Helper()
	var ms []member
	for _, name := range nodeServices(t, p) {
		if cfg := nodeConfig(t, p, name); cfg.Cluster.Enabled() {
			ms = append(ms, member{name: name, svc: service(t, p, name), cfg: cfg})
		}
	}
	if len(ms) != clusterSize {
		t.Fatalf("%d cluster members in docker-compose.yml, want %d", len(ms), clusterSize)
	}
	return ms
}

// TestComposeClusterMembersFormOneCluster: the members agree on what must
// be shared (cluster name, store, keyspace, shard count, topics), each
// peers list names exactly the members' --cluster-addr, and each member
// is reachable on the compose network under its own service name.
func TestComposeClusterMembersFormOneCluster(t *testing.T) {
	p := loadProject(t)
	ms := clusterMembers(t, p)
	var addrs []string
	for _, m := range ms {
		addrs = append(addrs, m.cfg.Cluster.Addr)
	}
	slices.Sort(addrs)
	first := ms[0]
	for _, m := range ms {
		if !slices.Equal(m.svc.Profiles, []string{clusterProfile}) {
			t.Errorf("%s profiles %q, want [%s]", m.name, m.svc.Profiles, clusterProfile)
		}
		if m.cfg.Cluster.Name != first.cfg.Cluster.Name {
			t.Errorf("%s cluster name %q, %s's is %q", m.name, m.cfg.Cluster.Name, first.name, first.cfg.Cluster.Name)
		}
		if m.cfg.Scylla.Keyspace != first.cfg.Scylla.Keyspace || m.cfg.Scylla.OutboxShards != first.cfg.Scylla.OutboxShards {
			t.Errorf("%s keyspace %s with %d shards, %s's is %s with %d: one shard layout per keyspace",
				m.name, m.cfg.Scylla.Keyspace, m.cfg.Scylla.OutboxShards, first.name, first.cfg.Scylla.Keyspace, first.cfg.Scylla.OutboxShards)
		}
		if m.cfg.Relay.TopicTemplate != first.cfg.Relay.TopicTemplate {
			t.Errorf("%s topic template %q, %s's is %q", m.name, m.cfg.Relay.TopicTemplate, first.name, first.cfg.Relay.TopicTemplate)
		}
		peers := slices.Sorted(slices.Values(m.cfg.Cluster.Peers))
		if !slices.Equal(peers, addrs) {
			t.Errorf("%s peers %q, want exactly the members' cluster addrs %q", m.name, m.cfg.Cluster.Peers, addrs)
		}
		for what, addr := range map[string]string{"cluster addr": m.cfg.Cluster.Addr, "cluster remote": m.cfg.Cluster.Remote()} {
			if host, _, err := net.SplitHostPort(addr); err != nil || host != m.name {
				t.Errorf("%s %s %q: want its service name as host, which its peers resolve", m.name, what, addr)
			}
		}
	}
}

// TestComposeClusterMembersAreDistinct: no two node services (the members
// and the lone node) share a cluster address, members' remote, published
// metrics port or data volume.
func TestComposeClusterMembersAreDistinct(t *testing.T) {
	p := loadProject(t)
	seen := map[string]string{}
	distinct := func(owner, what, v string) {
		key := what + " " + v
		if prev, ok := seen[key]; ok {
			t.Errorf("%s and %s share %s", prev, owner, key)
		}
		seen[key] = owner
	}
	for _, name := range nodeServices(t, p) {
		s, cfg := service(t, p, name), nodeConfig(t, p, name)
		if cfg.Cluster.Enabled() {
			distinct(name, "cluster addr", cfg.Cluster.Addr)
			distinct(name, "cluster remote", cfg.Cluster.Remote())
		}
		_, port, _ := net.SplitHostPort(cfg.Node.MetricsAddr)
		published := ""
		for _, pp := range s.Ports {
			if strconv.FormatUint(uint64(pp.Target), 10) == port {
				published = pp.Published
			}
		}
		if published == "" {
			t.Errorf("%s does not publish its metrics port %s", name, port)
		} else {
			distinct(name, "host metrics port", published)
		}
		volume := ""
		for _, v := range s.Volumes {
			if v.Target == cfg.Node.DataDir && v.Type == types.VolumeTypeVolume {
				volume = v.Source
			}
		}
		if _, declared := p.Volumes[volume]; volume == "" || !declared {
			t.Errorf("%s: no declared named volume at its data dir %s", name, cfg.Node.DataDir)
		} else {
			distinct(name, "data volume", volume)
		}
	}
}

// TestComposeClusterMigratesOnce: one member applies the schema and every
// other waits for it healthy, since a member without the shard tables
// refuses to start.
func TestComposeClusterMigratesOnce(t *testing.T) {
	p := loadProject(t)
	ms := clusterMembers(t, p)
	var migrators []string
	for _, m := range ms {
		if m.cfg.ShouldMigrate() {
			migrators = append(migrators, m.name)
		}
	}
	if len(migrators) != 1 {
		t.Fatalf("members applying the schema: %q, want exactly one", migrators)
	}
	for _, m := range ms {
		if m.name == migrators[0] {
			continue
		}
		if d, ok := m.svc.DependsOn[migrators[0]]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s starts without waiting for %s, which applies the schema, to be healthy", m.name, migrators[0])
		}
	}
}

// TestComposeClusterTopicPerAggregate: Kafka orders records only within a
// topic, so every event of an order must go to one topic whichever member
// relays it: the template may name the aggregate, not the event type.
func TestComposeClusterTopicPerAggregate(t *testing.T) {
	p := loadProject(t)
	for _, m := range clusterMembers(t, p) {
		mapper, err := kafka.NewMapper(m.cfg.Relay.TopicTemplate)
		if err != nil {
			t.Fatalf("%s topic template: %v", m.name, err)
		}
		topics := map[string]bool{}
		for _, et := range []string{orders.EventOrderCreated, orders.EventOrderUpdated, orders.EventOrderCancelled} {
			topics[mapper.Topic(&messages.OutboxEvent{AggregateType: orders.AggregateType, EventType: et})] = true
		}
		if len(topics) != 1 {
			t.Errorf("%s topic template %q spreads an order's events over %d topics", m.name, m.cfg.Relay.TopicTemplate, len(topics))
		}
		for topic := range topics {
			if !kafka.ValidTopic(topic) {
				t.Errorf("%s: topic %q is not a legal Kafka topic", m.name, topic)
			}
		}
	}
}

// TestComposeClientsShareTheirNodesNamespace: Proto.Actor remote replies
// go to the client's own address, so each outboxctl service shares the
// network namespace of the node it asks and dials that node's loopback
// remote, once the node is healthy. One asks the lone node, one a member.
func TestComposeClientsShareTheirNodesNamespace(t *testing.T) {
	p := loadProject(t)
	var targets []string
	for name, s := range p.Services {
		if !isClient(s) {
			continue
		}
		node, ok := strings.CutPrefix(s.NetworkMode, "service:")
		if !ok || !slices.Contains(nodeServices(t, p), node) {
			t.Errorf("%s network_mode %q: want service:<a node service>", name, s.NetworkMode)
			continue
		}
		targets = append(targets, node)
		if d, ok := s.DependsOn[node]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s does not wait for a healthy %s", name, node)
		}
		remote := nodeConfig(t, p, node).Node.RemoteAddr
		i := slices.Index(s.Entrypoint, "--remote-addr")
		if i < 0 || i+1 >= len(s.Entrypoint) || s.Entrypoint[i+1] != remote {
			t.Errorf("%s entrypoint %q: want --remote-addr %s, %s's remote", name, s.Entrypoint, remote, node)
		}
		if host, _, _ := net.SplitHostPort(remote); net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
			t.Errorf("%s remote %s is not on loopback, where the shared namespace reaches it", node, remote)
		}
	}
	if !slices.Contains(targets, nodeService) {
		t.Errorf("no outboxctl service asks %s", nodeService)
	}
	if !slices.ContainsFunc(targets, func(n string) bool { return nodeConfig(t, p, n).Cluster.Enabled() }) {
		t.Errorf("no outboxctl service asks a cluster member (targets %q)", targets)
	}
}

// TestComposeProfilesStartOnlyServers: `docker compose [--profile P] up
// --wait` starts servers only (a client exits at once, which --wait
// reports as a failure), each with what it depends on; `run` naming a
// client enables it along with its node.
func TestComposeProfilesStartOnlyServers(t *testing.T) {
	for _, profiles := range [][]string{nil, {"node"}, {clusterProfile}} {
		p := loadProfiles(t, profiles...)
		for name, s := range p.Services {
			if isClient(s) {
				t.Errorf("--profile %q up starts the client %s", profiles, name)
			}
			for dep := range s.DependsOn {
				if _, ok := p.Services[dep]; !ok {
					t.Errorf("--profile %q: %s depends on %s, which the profile does not start", profiles, name, dep)
				}
			}
		}
		for name, s := range p.DisabledServices {
			if !isClient(s) {
				continue
			}
			node := strings.TrimPrefix(s.NetworkMode, "service:")
			if _, ok := p.Services[node]; !ok {
				continue // another profile's client
			}
			run, err := p.WithServicesEnabled(name)
			if err != nil {
				t.Fatalf("--profile %q run %s: %v", profiles, name, err)
			}
			if _, ok := run.Services[name]; !ok {
				t.Errorf("--profile %q run %s does not enable it", profiles, name)
			}
			for dep := range run.Services {
				if _, ok := p.Services[dep]; !ok && dep != name {
					t.Errorf("--profile %q run %s also enables %s", profiles, name, dep)
				}
			}
		}
	}
	cluster := loadProfiles(t, clusterProfile)
	for _, m := range clusterMembers(t, loadProject(t)) {
		if _, ok := cluster.Services[m.name]; !ok {
			t.Errorf("--profile %s does not start %s", clusterProfile, m.name)
		}
	}
	if _, ok := loadProfiles(t, "node").Services[nodeService]; !ok {
		t.Errorf("--profile node does not start %s", nodeService)
	}
}
