package membership

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
)

// Status of a member in a Change.
type Status string

const (
	// StatusAlive is a member of the current member list.
	StatusAlive Status = "alive"
	// StatusLeft is a member that left with the change: protoactor blocks
	// its id for good, so a restarted node joins under a new one.
	StatusLeft Status = "left"
)

// Member is a cluster member.
type Member struct {
	// Address is the member's remote address, host:port: what Assign
	// places shards on and grains live at.
	Address string
	// ID is the member's actor system id, new on every start.
	ID     string
	Status Status
}

// Change is a new member list; Joined and Left are relative to the one
// before.
type Change struct {
	Members []Member
	Joined  []Member
	Left    []Member
}

// Membership is this node's cluster membership.
type Membership struct {
	cluster  *cluster.Cluster
	provider *peerProvider
	logger   *slog.Logger
	topology *eventstream.Subscription

	mu      sync.Mutex
	current Change
	subs    map[chan Change]struct{}
	closed  bool

	// stopWatch ends the stall watch; dropped carries its finding.
	stopWatch context.CancelFunc
	dropped   chan error
}

// Start makes system a member of the cluster cfg names, hosting kinds as
// virtual actors placed by disthash over the members. Protoactor's cluster
// starts the remote itself from remoteCfg (cluster.StartMember cannot take
// over a started one), so the caller must not start a remote on system: it
// passes the options it would have given remote.NewRemote (gateway server
// options, TLS dial options) and reaches the remote as Cluster().Remote.
//
// Start returns once the member has started; the peers appear in Members
// after their first probe. Protoactor's StartMember waits one second.
func Start(ctx context.Context, system *actor.ActorSystem, cfg Config, remoteCfg *remote.Config, kinds ...*cluster.Kind) (m *Membership, err error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("cluster health endpoint: %w", err)
	}
	logger := system.Logger().With("component", "membership")
	ms := &Membership{logger: logger, subs: map[chan Change]struct{}{}}
	// Subscribed when the provider starts, before its first topology and
	// after disthash's subscription (StartMember sets the identity lookup
	// up first): subscribers run in order, so whoever sees a change through
	// Members or Subscribe sees disthash place grains by it already.
	provider := newPeerProvider(cfg, ln, logger, func() { ms.topology = system.EventStream.Subscribe(ms.onEvent) })
	ms.provider = provider
	ms.cluster = cluster.New(system, cluster.Configure(cfg.Name, provider, disthash.New(), remoteCfg, cluster.WithKinds(kinds...)))
	// StartMember panics when the remote cannot listen or a part of the
	// cluster fails to start; turn that into a start-up error.
	defer func() {
		if p := recover(); p != nil {
			system.EventStream.Unsubscribe(ms.topology)
			_ = provider.Shutdown(false)
			m, err = nil, fmt.Errorf("start cluster member %s (remote %s:%d): %v", cfg.Addr, remoteCfg.Host, remoteCfg.Port, p)
		}
	}()
	ms.cluster.StartMember()
	watch, stopWatch := context.WithCancel(context.Background())
	ms.stopWatch, ms.dropped = stopWatch, make(chan error, 1)
	go func() {
		defer close(ms.dropped)
		hadPeers := func() bool { return len(ms.Members()) > 1 }
		if err := watchStalls(watch.Done(), cfg.RefreshTTL/2, cfg.DeadAfter, time.Now, hadPeers); err != nil {
			logger.Error("cluster member dropped by its peers", "error", err)
			ms.dropped <- err
		}
	}()
	return ms, nil
}

// Dropped delivers ErrDropped if this member finds its peers dropped it
// (see ErrDropped); it is closed when the membership shuts down.
func (m *Membership) Dropped() <-chan error {
	return m.dropped
}

// Cluster is the protoactor cluster, to request grains and reach the remote.
func (m *Membership) Cluster() *cluster.Cluster {
	return m.cluster
}

// Members returns the current member list, sorted by address. It is the
// last published cluster.ClusterTopology; protoactor's MemberList.Members
// is read without its lock, racing with the provider's updates.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.current.Members)
}

// Subscribe returns a channel of member list changes, starting with the
// current list if one was published. A slow reader misses intermediate
// changes, never the latest: each Change holds the whole list. The channel
// is closed when ctx ends or the membership shuts down.
func (m *Membership) Subscribe(ctx context.Context) <-chan Change {
	ch := make(chan Change, 1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		close(ch)
		return ch
	}
	if m.current.Members != nil {
		ch <- m.current
	}
	m.subs[ch] = struct{}{}
	context.AfterFunc(ctx, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.subs[ch]; ok {
			delete(m.subs, ch)
			close(ch)
		}
	})
	return ch
}

// onEvent runs on the publisher's goroutine, under protoactor's member list
// lock: it must not block.
func (m *Membership) onEvent(evt any) {
	t, ok := evt.(*cluster.ClusterTopology)
	if !ok {
		return
	}
	change := Change{
		Members: members(t.Members, StatusAlive),
		Joined:  members(t.Joined, StatusAlive),
		Left:    members(t.Left, StatusLeft),
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.current = change
	for ch := range m.subs {
		select { // keep only the latest change in the buffer
		case <-ch:
		default:
		}
		ch <- change
	}
	m.logger.Info("cluster members", "members", len(change.Members), "joined", addresses(change.Joined), "left", addresses(change.Left))
}

// Shutdown leaves the cluster and shuts the actor system down (protoactor's
// Cluster.Shutdown does both). It first stops serving this member's
// identity, so the peers drop it within their DeadAfter. Graceful also stops
// the cluster's gossip and identity lookup; protoactor then waits 2 s for
// activations to hand over.
func (m *Membership) Shutdown(graceful bool) {
	m.stopWatch()
	if err := m.provider.Shutdown(graceful); err != nil {
		m.logger.Warn("leave cluster", "error", err)
	}
	m.cluster.Shutdown(graceful)
	m.cluster.ActorSystem.EventStream.Unsubscribe(m.topology)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	for ch := range m.subs {
		delete(m.subs, ch)
		close(ch)
	}
}

func members(ms []*cluster.Member, status Status) []Member {
	out := make([]Member, 0, len(ms))
	for _, cm := range ms {
		out = append(out, Member{Address: cm.Address(), ID: cm.Id, Status: status})
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Address, b.Address) })
	return out
}

func addresses(ms []Member) []string {
	out := make([]string, len(ms))
	for i, mm := range ms {
		out[i] = mm.Address
	}
	return out
}
