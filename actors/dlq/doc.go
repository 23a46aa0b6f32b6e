// Package dlq is the relay's dead-letter actor, beside the stream:
// publisher -> dlq actor -> dead_letter_queue (infra/scylla), and
// outboxctl dlq list|replay|skip -> coordinator -> dlq actor -> publisher.
//
// It is the only writer of the dead-letter store. The publisher stores
// entries (DLQStore) and reads the pending ones (DLQPending) through Client;
// operators list them (DLQList), skip a dead head (DLQSkip) or replay it
// (DLQReplay). Both hand the aggregate back to the publisher
// (ReleaseAggregate), which publishes the dead head (on replay) and the events
// parked behind it in order. Entries are never deleted: replayed and skipped
// ones keep their row with the new state.
package dlq
