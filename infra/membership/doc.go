// Package membership makes outbox nodes one Proto.Actor cluster and places
// outbox shards over its live members. Members find each other over a static
// peers list: each serves its identity on a small HTTP health endpoint, and
// probes its peers' to publish the member list to the cluster
// (cluster.ClusterTopology), on which Proto.Actor places virtual actors and
// Assign places shards.
package membership
