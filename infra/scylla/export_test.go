package scylla

// ClusterConfig exposes clusterConfig to the external tests.
var ClusterConfig = clusterConfig
