package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
)

// healthPath is where a member serves its identity; the automanaged
// provider's path, so the two can probe each other's liveness.
const healthPath = "/_health"

// maxProbeBytes bounds a probe's request headers and answer: a member's
// identity is a few hundred bytes.
const maxProbeBytes = 16 << 10

// node is a member as its health endpoint describes it.
type node struct {
	ID      string   `json:"id"`
	Cluster string   `json:"cluster_name"`
	Host    string   `json:"address"`
	Port    int      `json:"port"`
	Kinds   []string `json:"kinds"`
}

func (n *node) member() *cluster.Member {
	return &cluster.Member{Id: n.ID, Host: n.Host, Port: int32(n.Port), Kinds: n.Kinds}
}

// peerProvider is a cluster.ClusterProvider over a static peers list, with
// the automanaged provider's semantics: every member serves its identity
// over HTTP, probes its peers' every RefreshTTL and publishes those that
// answered as the member list. Unlike automanaged it listens on Addr's host
// only, drops a peer only after DeadAfter without an answer, and keeps no
// package-level state, so several members can run in one process.
type peerProvider struct {
	cfg    Config
	ln     net.Listener
	logger *slog.Logger
	client *http.Client
	// beforeProbing runs in StartMember before the first member list.
	beforeProbing func()

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{} // closed when the probe loop and server ended
	srv      *http.Server
}

var _ cluster.ClusterProvider = (*peerProvider)(nil)

func newPeerProvider(cfg Config, ln net.Listener, logger *slog.Logger, beforeProbing func()) *peerProvider {
	return &peerProvider{
		cfg:           cfg,
		ln:            ln,
		logger:        logger,
		client:        &http.Client{Timeout: cfg.RefreshTTL},
		beforeProbing: beforeProbing,
	}
}

// StartMember serves this member's identity and starts probing the peers.
func (p *peerProvider) StartMember(c *cluster.Cluster) error {
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return fmt.Errorf("member address: %w", err)
	}
	self := &node{ID: c.ActorSystem.ID, Cluster: p.cfg.Name, Host: host, Port: port, Kinds: c.GetClusterKinds()}
	body, err := json.Marshal(self)
	if err != nil {
		return fmt.Errorf("encode member: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+healthPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	// Probes are one small GET each: anything slower, larger or idle longer
	// than a probe round is not a peer, and must not hold a connection.
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: p.cfg.RefreshTTL, ReadTimeout: p.cfg.RefreshTTL,
		WriteTimeout: p.cfg.RefreshTTL, IdleTimeout: p.cfg.DeadAfter, MaxHeaderBytes: maxProbeBytes}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done = make(chan struct{})
	p.beforeProbing()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := p.srv.Serve(p.ln); !errors.Is(err, http.ErrServerClosed) {
			p.logger.Error("cluster health endpoint stopped", "addr", p.cfg.Addr, "error", err)
		}
	})
	wg.Go(func() { p.probeLoop(ctx, c.MemberList, self) })
	go func() { wg.Wait(); close(p.done) }()
	p.logger.Info("cluster member", "cluster", p.cfg.Name, "addr", p.cfg.Addr, "id", self.ID, "remote", c.ActorSystem.Address(), "peers", len(p.cfg.Peers))
	return nil
}

// StartClient is not supported: every node is a member.
func (p *peerProvider) StartClient(*cluster.Cluster) error {
	return errors.New("membership: cluster clients are not supported")
}

// Shutdown stops probing and closes the health endpoint, so the peers drop
// this member after their DeadAfter. It may be called more than once.
func (p *peerProvider) Shutdown(bool) error {
	var err error
	p.stopOnce.Do(func() {
		if p.srv == nil { // never started
			err = p.ln.Close()
			return
		}
		p.cancel()
		err = p.srv.Close()
		<-p.done
	})
	if err != nil {
		return fmt.Errorf("close cluster health endpoint: %w", err)
	}
	return nil
}

type sighting struct {
	node *node
	at   time.Time
}

// probeLoop publishes the member list every RefreshTTL: itself and the
// peers that answered within DeadAfter.
func (p *peerProvider) probeLoop(ctx context.Context, ml *cluster.MemberList, self *node) {
	seen := map[string]sighting{} // by peer addr
	for {
		now := time.Now()
		for addr, n := range p.probeAll(ctx) {
			if _, known := seen[addr]; !known {
				p.logger.Info("cluster peer answers", "peer", addr, "id", n.ID)
			}
			seen[addr] = sighting{node: n, at: now}
		}
		if ctx.Err() != nil {
			return
		}
		members := cluster.Members{self.member()}
		ids := map[string]bool{self.ID: true}
		for addr, s := range seen {
			if now.Sub(s.at) > p.cfg.DeadAfter {
				p.logger.Warn("cluster peer dead", "peer", addr, "id", s.node.ID, "silent_for", now.Sub(s.at).Round(time.Millisecond))
				delete(seen, addr)
				continue
			}
			if ids[s.node.ID] {
				continue
			}
			ids[s.node.ID] = true
			members = append(members, s.node.member())
		}
		ml.UpdateClusterTopology(members)
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.cfg.RefreshTTL):
		}
	}
}

// probeAll asks every peer at once for its identity and returns those of
// this cluster that answered, by peer addr.
func (p *peerProvider) probeAll(ctx context.Context) map[string]*node {
	var mu sync.Mutex
	var wg sync.WaitGroup
	found := make(map[string]*node, len(p.cfg.Peers))
	for _, addr := range p.cfg.Peers {
		if addr == p.cfg.Addr {
			continue
		}
		wg.Go(func() {
			n, err := p.probe(ctx, addr)
			if err != nil {
				p.logger.Debug("cluster peer probe failed", "peer", addr, "error", err)
				return
			}
			if n.Cluster != p.cfg.Name {
				p.logger.Debug("cluster peer in another cluster", "peer", addr, "cluster", n.Cluster)
				return
			}
			mu.Lock()
			found[addr] = n
			mu.Unlock()
		})
	}
	wg.Wait()
	return found
}

func (p *peerProvider) probe(ctx context.Context, addr string) (*node, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+healthPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	var n node
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxProbeBytes)).Decode(&n); err != nil {
		return nil, fmt.Errorf("decode member: %w", err)
	}
	if n.ID == "" || n.Host == "" || n.Port <= 0 {
		return nil, fmt.Errorf("incomplete member %+v", n)
	}
	return &n, nil
}
