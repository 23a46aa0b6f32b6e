package main

import (
	"testing"

	"github.com/outboxnode/outbox/messages"
)

func TestClusterOutput(t *testing.T) {
	r := &messages.ClusterReport{
		Members: []*messages.ClusterMember{{Address: "10.0.0.1:8090", Status: "alive"}, {Address: "10.0.0.2:8090", Status: "alive"}},
		Shards: []*messages.ShardStatus{
			{Shard: 0, Owner: "10.0.0.1:8090", Epoch: 3, LagSeconds: 0.2},
			{Shard: 1, Owner: "10.0.0.2:8090", Epoch: 1, Expired: true},
			{Shard: 2},
		},
	}
	got, err := clusterOutput(r, "json")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"members":[{"address":"10.0.0.1:8090","status":"alive"},{"address":"10.0.0.2:8090","status":"alive"}],` +
		`"shards":[{"shard":0,"owner":"10.0.0.1:8090","epoch":3,"lag_seconds":0.2},{"shard":1,"owner":"10.0.0.2:8090","epoch":1,"lag_seconds":0},` +
		`{"shard":2,"owner":"","epoch":0,"lag_seconds":0}]}`
	if got != want {
		t.Fatalf("json:\n%s\nwant\n%s", got, want)
	}
	text, _ := clusterOutput(r, "text")
	wantText := "member  10.0.0.1:8090            alive\n" +
		"member  10.0.0.2:8090            alive\n" +
		"shard  owner                     epoch       lag\n" +
		"0      10.0.0.1:8090                 3      0.2s\n" +
		"1      10.0.0.2:8090 (expired)       1      0.0s\n" +
		"2      -                             0      0.0s"
	if text != wantText {
		t.Fatalf("text:\n%s\nwant\n%s", text, wantText)
	}
	empty, _ := clusterOutput(&messages.ClusterReport{}, "json")
	if empty != `{"members":[],"shards":[]}` {
		t.Fatalf("empty: %s", empty)
	}
}
