package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/messages"
)

// clusterJSON is the -o json shape of `outboxctl cluster`.
type clusterJSON struct {
	Members []memberJSON `json:"members"`
	Shards  []shardJSON  `json:"shards"`
}

type memberJSON struct {
	Address string `json:"address"`
	Status  string `json:"status"`
}

type shardJSON struct {
	Shard      int32   `json:"shard"`
	Owner      string  `json:"owner"`
	Epoch      int64   `json:"epoch"`
	LagSeconds float64 `json:"lag_seconds"`
}

// cluster prints the members and every outbox shard's owner, epoch and lag.
func cluster(e *env, cmd *cli.Command) error {
	if _, err := cliflags.Args(cmd); err != nil {
		return err
	}
	c, err := e.connect()
	if err != nil {
		return err
	}
	r, err := expect[*messages.ClusterReport](c.request(&messages.ClusterQuery{}))
	if err != nil {
		return err
	}
	out, err := clusterOutput(r, e.output)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.stdout, out)
	return err
}

// clusterOutput renders r as text or, with output json, in the JSON shape of clusterJSON.
func clusterOutput(r *messages.ClusterReport, output string) (string, error) {
	if output != "json" {
		return clusterText(r), nil
	}
	out := clusterJSON{Members: []memberJSON{}, Shards: []shardJSON{}}
	for _, m := range r.GetMembers() {
		out.Members = append(out.Members, memberJSON{Address: m.GetAddress(), Status: m.GetStatus()})
	}
	for _, s := range r.GetShards() {
		out.Shards = append(out.Shards, shardJSON{Shard: s.GetShard(), Owner: s.GetOwner(), Epoch: s.GetEpoch(), LagSeconds: s.GetLagSeconds()})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode cluster: %w", err)
	}
	return string(b), nil
}

func clusterText(r *messages.ClusterReport) string {
	var b strings.Builder
	for _, m := range r.GetMembers() {
		fmt.Fprintf(&b, "member  %-24s %s\n", m.GetAddress(), m.GetStatus())
	}
	fmt.Fprintf(&b, "%-6s %-24s %6s %9s", "shard", "owner", "epoch", "lag")
	for _, s := range r.GetShards() {
		owner := s.GetOwner()
		switch {
		case owner == "":
			owner = "-"
		case s.GetExpired():
			owner += " (expired)"
		}
		fmt.Fprintf(&b, "\n%-6d %-24s %6d %8.1fs", s.GetShard(), owner, s.GetEpoch(), s.GetLagSeconds())
	}
	return b.String()
}
