package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/internal/racefree"
	"github.com/outboxnode/outbox/test/harness"
)

const echoKind = "echo"

// echoGrain answers a string with its identity and the member it lives on.
func echoGrain(ctx actor.Context) {
	if msg, ok := ctx.Message().(*wrapperspb.StringValue); ok {
		id := cluster.GetClusterIdentity(ctx).GetIdentity()
		ctx.Respond(wrapperspb.String(msg.GetValue() + " " + id + " " + ctx.Self().GetAddress()))
	}
}

func startMember(t *testing.T, cfg Config, remoteAddr string) *Membership {
	t.Helper()
	host, portStr, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		if !testing.Verbose() { // protoactor logs every lost connection as an error
			return slog.New(slog.DiscardHandler)
		}
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}))
	m, err := Start(t.Context(), sys, cfg, remote.Configure(host, port, remote.WithAdvertisedHost(remoteAddr)),
		cluster.NewKind(echoKind, actor.PropsFromFunc(echoGrain)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sees(m *Membership, want []string) func() error {
	return func() error {
		var got []string
		for _, mm := range m.Members() {
			if mm.Status != StatusAlive {
				return fmt.Errorf("member %+v is not alive", mm)
			}
			got = append(got, mm.Address)
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("members %v, want %v", got, want)
		}
		return nil
	}
}

// TestClusterOfThree forms a cluster of three members over the peers list,
// requests grains through the first wherever disthash places them, and
// sees the third leave. The race detector finds races inside protoactor's
// cluster (racefree.ProtoactorRaces) in any multi-member run, so under
// -race the same test runs in a build without the detector, and its result
// is this one's.
func TestClusterOfThree(t *testing.T) {
	if racefree.Rerun(t) {
		return
	}
	var health, remotes []string
	for range 3 {
		health = append(health, harness.FreeAddr(t))
		remotes = append(remotes, harness.FreeAddr(t))
	}
	nodes := make([]*Membership, 3)
	for i := range nodes {
		cfg := Config{Name: "test", Addr: health[i], Peers: health, RefreshTTL: 50 * time.Millisecond, DeadAfter: 500 * time.Millisecond}
		nodes[i] = startMember(t, cfg, remotes[i])
	}
	t.Cleanup(func() {
		for _, n := range nodes[:2] {
			n.Shutdown(false)
		}
	})
	all := slices.Sorted(slices.Values(remotes))
	for _, n := range nodes {
		poll.Eventually(t, 10*time.Second, sees(n, all))
	}

	// Grains answer from where disthash places them; with 20 identities
	// over 3 members, some live off the requesting one.
	where := map[string]int{}
	c := nodes[0].Cluster()
	for i := range 20 {
		id := fmt.Sprintf("grain-%d", i)
		var answer string
		poll.Eventually(t, 10*time.Second, func() error {
			resp, err := c.Request(id, echoKind, wrapperspb.String("ping"))
			if err != nil {
				return err
			}
			s, ok := resp.(*wrapperspb.StringValue)
			if !ok {
				return fmt.Errorf("answer %T", resp)
			}
			answer = s.GetValue()
			return nil
		})
		var ping, gotID, addr string
		if _, err := fmt.Sscan(answer, &ping, &gotID, &addr); err != nil || ping != "ping" || gotID != id || !slices.Contains(remotes, addr) {
			t.Fatalf("grain %s answered %q", id, answer)
		}
		where[addr]++
	}
	if where[remotes[0]] == 20 {
		t.Errorf("all grains on the requesting member: %v", where)
	}
	t.Logf("grains per member: %v", where)

	changes := nodes[0].Subscribe(t.Context())
	nodes[2].Shutdown(true)
	rest := slices.Sorted(slices.Values(remotes[:2]))
	for _, n := range nodes[:2] {
		poll.Eventually(t, 10*time.Second, sees(n, rest))
	}
	timeout := time.After(10 * time.Second)
	for left := false; !left; {
		select {
		case ch := <-changes:
			left = slices.ContainsFunc(ch.Left, func(m Member) bool { return m.Address == remotes[2] && m.Status == StatusLeft })
		case <-timeout:
			t.Fatal("no change reported the third member leaving")
		}
	}
}

func TestStartRejectsBusyAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	_, err = Start(t.Context(), sys, Config{Addr: ln.Addr().String()}, remote.Configure("127.0.0.1", 0))
	if err == nil {
		t.Fatal("started on a busy health addr")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Addr: "10.0.0.1:6330"}, true},
		{"peers", Config{Addr: "10.0.0.1:6330", Peers: []string{"10.0.0.1:6330", "node-2:6330"}}, true},
		{"no addr", Config{}, false},
		{"no host", Config{Addr: ":6330"}, false},
		{"no port", Config{Addr: "10.0.0.1:0"}, false},
		{"bad peer", Config{Addr: "10.0.0.1:6330", Peers: []string{"node-2"}}, false},
		{"dead before refresh", Config{Addr: "10.0.0.1:6330", RefreshTTL: time.Second, DeadAfter: time.Millisecond}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.SetDefaults()
			err := tc.cfg.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("%v does not wrap ErrInvalidConfig", err)
			}
		})
	}
	cfg := Config{RefreshTTL: time.Second}
	cfg.SetDefaults()
	if cfg.Name != DefaultName || cfg.DeadAfter != DefaultDeadAfter {
		t.Errorf("defaults: %+v", cfg)
	}
}

// fakePeer serves a member's identity as a peer's health endpoint would.
func fakePeer(t *testing.T, n node) *httptest.Server {
	t.Helper()
	body, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != healthPath {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestPeerJoinsAndDies runs one member, race-free under -race, with a fake
// peer of its cluster and one of another: the first joins, the second is
// ignored, and the first leaves once silent for DeadAfter.
func TestPeerJoinsAndDies(t *testing.T) {
	peer := fakePeer(t, node{ID: "fake", Cluster: "test", Host: "127.0.0.1", Port: 1, Kinds: []string{echoKind}})
	stranger := fakePeer(t, node{ID: "stranger", Cluster: "other", Host: "127.0.0.1", Port: 2})
	self, selfRemote := harness.FreeAddr(t), harness.FreeAddr(t)
	cfg := Config{
		Name:       "test",
		Addr:       self,
		Peers:      []string{self, peer.Listener.Addr().String(), stranger.Listener.Addr().String()},
		RefreshTTL: 20 * time.Millisecond,
		DeadAfter:  200 * time.Millisecond,
	}
	m := startMember(t, cfg, selfRemote)
	changes := m.Subscribe(t.Context())
	ctx, cancel := context.WithCancel(t.Context())
	cancelled := m.Subscribe(ctx)
	cancel()
	for range cancelled { // closed once ctx ends
	}

	poll.Eventually(t, 5*time.Second, sees(m, []string{"127.0.0.1:1", selfRemote}))
	peer.Close()
	poll.Eventually(t, 5*time.Second, sees(m, []string{selfRemote}))
	timeout := time.After(5 * time.Second)
	for left := false; !left; {
		select {
		case ch := <-changes:
			left = slices.ContainsFunc(ch.Left, func(m Member) bool { return m.ID == "fake" && m.Status == StatusLeft })
		case <-timeout:
			t.Fatal("no change reported the fake peer leaving")
		}
	}

	m.Shutdown(false)
	for range changes { // closed by Shutdown
	}
	if _, err := http.Get("http://" + self + healthPath); err == nil {
		t.Error("health endpoint still serves after Shutdown")
	}
}
