// Package publisher is the relay's last actor before Kafka:
// cdcstream -> publisher -> infra/kafka (and -> dead_letter_queue through the
// DLQ actor). It batches outbox events, publishes each batch inside the
// retry + circuit-breaker policy, dead-letters what can never be published
// and parks the later events of an aggregate whose head is dead-lettered.
//
// # Protocol (messages/relay.proto)
//
// The CdcStream actor (or any requester) sends one *messages.PublishEvent per
// outbox row with ctx.Request (so the publisher knows the sender):
//
//	PublishEvent{event: OutboxEvent, decode_error: ""}
//
// A non-empty decode_error marks a row that could not be decoded; event then
// holds what could be read (at least event_id and aggregate_id, the key
// columns) and the row goes straight to the DLQ. An event without an
// event_id cannot be stored anywhere and is answered with
// *messages.CommandRejected (INVALID_ARGUMENT) instead of an ack.
//
// For every PublishEvent the publisher answers the sender with exactly one
// *messages.EventAck{event_id, outcome, error}, and only once the outcome is
// durable:
//
//   - ACK_OUTCOME_PUBLISHED: Kafka acknowledged the record (acks=all);
//   - ACK_OUTCOME_DEAD_LETTERED: the record failed permanently (too large,
//     invalid topic, undecodable row) after the retry policy and its dead
//     letter is stored; error says why;
//   - ACK_OUTCOME_PARKED: an earlier event of the same aggregate is dead,
//     so this one is stored in the DLQ in state parked, unpublished.
//
// All three let the stream advance its checkpoint past the event. A broker
// outage is not an outcome: the publisher keeps the batch, pauses (the
// breaker is open or retries are exhausted) and tries again until Kafka
// takes it; it never dead-letters or drops an event for unavailability. So a
// requester waits as long as the outage lasts and must bound what it has in
// flight (its window), not its wait. Acks of one aggregate come in the order
// its events were received. A request that is lost with a restarted
// publisher is never acked; the requester re-sends it (at-least-once, same
// event_id). Sending an event again while it is still queued or in flight
// does not publish it twice: every requester gets the one ack.
//
// The DLQ actor releases an aggregate with *messages.ReleaseAggregate after
// `dlq replay` or `dlq skip`; the publisher then publishes, in aggregate
// order, every dead or parked entry of it still pending and answers
// *messages.ReleaseResult.
//
// # Ordering
//
// One job runs at a time: loading the parked aggregates at start, a batch,
// or a release. A batch holds at most one publishable event per aggregate, so
// no later event of an aggregate can reach Kafka before an earlier one has
// been published or dead-lettered, and parking takes effect before the next
// batch is chosen. Under load the events that arrive while a batch is in
// flight form the next one (up to MaxBatch); Linger only delays an idle
// publisher's first event a little so that a burst goes out together.
//
// # Metrics
//
// The publisher reports cdc_events_processed_total (one per ack, any
// outcome), dlq_messages_total (dead or parked) and the commit-to-publish
// latency (Deps.Metrics); retry_attempts_total{operation="kafka_publish"}
// and circuit_breaker_state come from the policy's listener. The stream
// reports only its lag.
//
// # Wiring
//
//	policy := resilience.New(cfg, resilience.WithPermanent(kafka.IsPermanent), resilience.WithListener(m))
//	dlqPID := coordinator child "dlq": dlq.Props(cfg, scylla.NewDLQStore(session, ks), publisherPID)
//	publisher.Props(cfg, publisher.Deps{Producer: kafkaProducer, Policy: policy,
//		DeadLetters: dlq.NewClient(sys.Root, dlqPID, timeout), IsPermanent: kafka.IsPermanent, Metrics: m})
//
// PIDs of named children are predictable ("coordinator/dlq",
// "coordinator/cdcstream/publisher"), which breaks the cycle between the two
// props; a request to an actor not yet spawned fails and is retried.
package publisher
