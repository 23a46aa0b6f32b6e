// Package checkpoint is the relay's bookkeeping between reading the outbox
// and saving how far it is read: a Tracker orders what a reader returned
// (CDC changes, or polled events) and yields the newest position such that
// it and everything before it were acknowledged, a Window bounds what is
// read but not yet checkpointed, and Every drives the periodic saves. The
// CDC source (infra/cdc) and the outbox poller (infra/outboxpoll) share it,
// so both checkpoint, backpressure and report lag the same way.
package checkpoint

import (
	"sync"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"
)

// Tracker follows one CDC stream (or the poller's scan): the changes read in time order, how
// many of their events are still unacknowledged, the checkpoint, and how
// far the reader has read (for the lag of what it has not read yet). It is
// safe for concurrent use: the reader adds changes, acks come from the
// stream actor, the flusher saves progress, the lag probe adds what it
// found unread.
type Tracker struct {
	mu sync.Mutex
	// open[head:] are the changes read and not all acknowledged, oldest
	// first; the head index keeps each ack O(1) (compacted now and then).
	open []*Change
	head int
	// done is the cdc$time of the newest change such that it and every
	// earlier one are acknowledged; doneSlots counts their window slots not
	// yet released by a save.
	done      gocql.UUID
	doneSlots int
	saved     gocql.UUID

	// readTo is the newest cdc$time the stream is known to be read up to
	// (a change, an empty poll, or the progress the reader resumed from),
	// learnt at readAt.
	readTo gocql.UUID
	readAt time.Time
	// unread is the oldest committed change after readTo that the lag probe
	// found, zero if none; blind is set while the probe cannot read the log.
	unread gocql.UUID
	blind  bool
}

// Change is one time of a stream and its events still unacknowledged.
type Change struct {
	time  gocql.UUID
	slots int
	open  int
}

// Begin records a change with n events; with none it counts as acknowledged.
func (t *Tracker) Begin(at gocql.UUID, n int) *Change {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reachedLocked(at, time.Now())
	c := &Change{time: at, slots: n, open: n}
	t.open = append(t.open, c)
	t.advance()
	return c
}

// Ack acknowledges one event of c and reports whether the checkpoint
// can move.
func (t *Tracker) Ack(c *Change) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.open > 0 {
		c.open--
	}
	return t.advance()
}

// Acked reports whether every event read so far is acknowledged.
func (t *Tracker) Acked() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.head == len(t.open)
}

// advance moves done past the acknowledged changes at the front.
func (t *Tracker) advance() bool {
	moved := false
	for ; t.head < len(t.open) && t.open[t.head].open == 0; t.head++ {
		t.done = t.open[t.head].time
		t.doneSlots += t.open[t.head].slots
		t.open[t.head] = nil
		moved = true
	}
	if t.head > len(t.open)/2 {
		t.open = append(t.open[:0], t.open[t.head:]...)
		t.head = 0
	}
	return moved
}

// ToSave returns the checkpoint to save and the window slots a successful
// save releases; ok is false when nothing new was acknowledged.
func (t *Tracker) ToSave() (at gocql.UUID, slots int, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done == (gocql.UUID{}) || t.done == t.saved {
		return gocql.UUID{}, 0, false
	}
	return t.done, t.doneSlots, true
}

// MarkSaved records that the checkpoint at (from toSave) is durable.
func (t *Tracker) MarkSaved(at gocql.UUID, slots int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if scyllacdc.CompareTimeUUID(t.saved, at) < 0 {
		t.saved = at
	}
	t.doneSlots -= slots
}

// Reached records that the stream is read up to at.
func (t *Tracker) Reached(at gocql.UUID, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reachedLocked(at, now)
}

func (t *Tracker) reachedLocked(at gocql.UUID, now time.Time) {
	if scyllacdc.CompareTimeUUID(t.readTo, at) >= 0 {
		return
	}
	t.readTo, t.readAt = at, now
	if t.unread != (gocql.UUID{}) && scyllacdc.CompareTimeUUID(t.unread, at) <= 0 {
		t.unread = gocql.UUID{}
	}
	t.blind = false
}

// Position is how far the stream is read, and since when that is known.
func (t *Tracker) Position() (gocql.UUID, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.readTo, t.readAt
}

// Probed records what the lag probe found after from (the position it
// asked about): the oldest unread change (zero for none), or that the log
// could not be read (blind).
func (t *Tracker) Probed(from, unread gocql.UUID, blind bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.readTo != from {
		return // the reader moved on meanwhile: the answer is stale
	}
	t.unread, t.blind = unread, blind
}

// Lag is how long the oldest committed event of the stream that is not yet
// acknowledged has been committed, whether the reader returned it or not:
// what the checkpoint holds back, which must stay well below the CDC log
// TTL. It is zero when everything committed up to the reader's position is
// acknowledged and the probe found nothing unread after it. While the
// probe cannot read the log, or once the reader stopped (stopped), the age
// of the position stands in for the oldest unread change, as an upper
// bound.
func (t *Tracker) Lag(now time.Time, stopped bool) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var oldest time.Time
	if t.head < len(t.open) {
		oldest = t.open[t.head].time.Time()
	}
	unread := t.unread
	if t.blind || stopped {
		unread = t.readTo
	}
	if unread != (gocql.UUID{}) && (oldest.IsZero() || unread.Time().Before(oldest)) {
		oldest = unread.Time()
	}
	if oldest.IsZero() {
		return 0
	}
	return max(now.Sub(oldest), 0)
}
