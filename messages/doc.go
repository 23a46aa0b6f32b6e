// Package messages holds the protobuf messages that cross an actor or process boundary in the
// outbox node: outboxctl commands and their typed replies, health and supervision queries, the
// OutboxEvent that the relay publishes, and the DLQ and relay protocol. The Go code is generated
// from the .proto files in this directory by generate.sh (`make proto`); edit the .proto files,
// never the .pb.go files. Proto package outbox.v1: renaming a package or message breaks remote
// peers (protoactor cannot decode an unknown type name; the node's remote gateway drops such envelopes,
// and an older peer without it would fail).
package messages
