// Command outboxctl is the operator's CLI for an outbox node: it sends
// commands and queries over Proto.Actor remote to the node's coordinator
// (outboxctl -> remote -> coordinator -> orders/health/supervision/dlq).
//
//	outboxctl [--remote-addr host:port] [-o text|json] [--timeout 5s] COMMAND
//
// Its flags carry the node's names and OUTBOX_* variables (--remote-addr,
// OUTBOX_REMOTE_ADDR). Exit codes are the table in exitcodes.go: 0 ok,
// 1 failed or rejected, 2 usage, 3 node unreachable, 4 partial.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
