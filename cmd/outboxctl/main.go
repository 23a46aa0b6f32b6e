// Command outboxctl is the operator's CLI for an outbox node: it sends
// commands and queries over Proto.Actor remote to the node's coordinator
// (outboxctl -> remote -> coordinator -> orders/health/supervision/dlq).
//
//	outboxctl [--node host:port] [-o text|json] [--timeout 5s] COMMAND
//
// Exit codes: 0 ok, 1 rejected by the node (reason on stderr) or unhealthy,
// 2 usage error, 3 node unreachable or no reply in time, 4 other failure.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
