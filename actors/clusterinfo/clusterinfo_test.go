package clusterinfo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/actors/clusterinfo"
	"github.com/outboxnode/outbox/messages"
)

type members []*messages.ClusterMember

func (m members) Members() []*messages.ClusterMember { return m }

type shards struct {
	list []*messages.ShardStatus
	err  error
}

func (s shards) Shards(context.Context) ([]*messages.ShardStatus, error) { return s.list, s.err }

func ask(t *testing.T, m clusterinfo.Members, s clusterinfo.Shards) any {
	t.Helper()
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	props, err := clusterinfo.Props(m, s, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sys.Root.RequestFuture(sys.Root.Spawn(props), &messages.ClusterQuery{}, 5*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestReportsMembersAndShards(t *testing.T) {
	m := members{{Address: "10.0.0.1:8090", Status: "alive"}, {Address: "10.0.0.2:8090", Status: "alive"}}
	s := shards{list: []*messages.ShardStatus{{Shard: 0, Owner: "10.0.0.1:8090", Epoch: 3, LagSeconds: 0.2}}}
	got := ask(t, m, s)
	want := &messages.ClusterReport{Members: m, Shards: s.list}
	if !proto.Equal(got.(proto.Message), want) {
		t.Fatalf("report %v, want %v", got, want)
	}
}

func TestUnreadableLeasesAreStoreUnavailable(t *testing.T) {
	got := ask(t, members{}, shards{err: errors.New("no hosts")})
	rej, ok := got.(*messages.CommandRejected)
	if !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE || rej.GetReason() != "read shard leases: no hosts" {
		t.Fatalf("got %v", got)
	}
}
