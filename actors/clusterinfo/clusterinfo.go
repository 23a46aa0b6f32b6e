// Package clusterinfo answers ClusterQuery (`outboxctl cluster`) in cluster mode: the
// members as this node's membership sees them, and per outbox shard its lease as stored
// (owner, epoch, expiry) with the lag its owner reported at its last renewal. Both come
// from this node, so any member answers for the whole cluster.
package clusterinfo

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/messages"
)

// Members lists the cluster's members (infra/membership).
type Members interface {
	Members() []*messages.ClusterMember
}

// Shards reads every shard's lease (infra/lease).
type Shards interface {
	Shards(ctx context.Context) ([]*messages.ShardStatus, error)
}

// DefaultTimeout bounds the read of the shard leases.
const DefaultTimeout = 5 * time.Second

// Props returns the props of the actor; timeout bounds each read of the leases (zero:
// DefaultTimeout).
func Props(members Members, shards Shards, timeout time.Duration) (*actor.Props, error) {
	if members == nil || shards == nil {
		return nil, fmt.Errorf("clusterinfo: members and shards are required")
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*messages.ClusterQuery); !ok {
			return
		}
		// The store read runs off the actor, which answers other queries meanwhile.
		root, sender := ctx.ActorSystem().Root, ctx.Sender()
		if sender == nil {
			return
		}
		go func() {
			qctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			shards, err := shards.Shards(qctx)
			if err != nil {
				root.Send(sender, &messages.CommandRejected{Code: messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE, Reason: "read shard leases: " + err.Error()})
				return
			}
			root.Send(sender, &messages.ClusterReport{Members: members.Members(), Shards: shards})
		}()
	}), nil
}
