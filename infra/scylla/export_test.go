package scylla

// ChainOnlyTLS exposes chainOnlyTLS to the external tests.
var ChainOnlyTLS = chainOnlyTLS
