// Package actors holds the node's Proto.Actor supervision tree, one package per actor.
// Every request enters through the coordinator; every message crossing an actor or process
// boundary is a protobuf message from package messages, except the few plain Go values an
// actor sends to its own children.
//
// Data path (command side left to right, relay side below):
//
//	outboxctl --(Proto.Actor remote)--> coordinator --> orders --> order/<id>
//	                                                                  |
//	                                    Store.Commit: ONE LOGGED BATCH (orders + outbox_messages)
//	                                                                  |
//	                                                                  v
//	  Kafka topic <-- infra/kafka <-- publisher <-- cdcstream <-- ScyllaDB CDC log
//	                                      |
//	                                      `--> dlq --> dead_letter_queue (outboxctl dlq list|replay)
//
// Supervision tree:
//
//	coordinator            root; one-for-one restarts within a budget, else OnFatal stops the node
//	 |- supervision        JSON-lines log of every start, stop, failure, restart, escalation
//	 |- orders             validates, routes by order id
//	 |   `- <order id>     loads once, applies CREATED -> UPDATED* -> CANCELLED, commits, replies
//	 |- health             aggregates component probes into HealthReport
//	 |- cdcstream          owns the scylla-cdc-go reader, bounded in-flight window
//	 |   `- publisher      sarama behind failsafe-go retry + circuit breaker
//	 `- dlq                dead letters: store, list, replay, skip
//
// Packages: coordinator (routing, restart budget, fault injection), orders (commands and the
// Store interface that infra/scylla implements), health (Probe interface), supervision
// (Observe for every actor's props, Strategy for supervisors, the log actor), and the relay
// packages cdcstream, publisher and dlq. admission is the node-wide gate the node closes when
// it begins to stop: from then on the coordinator and the orders actors refuse every command
// with SHUTTING_DOWN and spawn nothing.
package actors
