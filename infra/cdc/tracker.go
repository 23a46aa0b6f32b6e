package cdc

import (
	"sync"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"
)

// tracker follows one CDC stream: the changes read in cdc$time order, how
// many of their events are still unacknowledged, and the checkpoint. It is
// safe for concurrent use: the reader adds changes, acks come from the
// stream actor, the flusher saves progress.
type tracker struct {
	mu sync.Mutex
	// open[head:] are the changes read and not all acknowledged, oldest
	// first; the head index keeps each ack O(1) (compacted now and then).
	open []*change
	head int
	// done is the cdc$time of the newest change such that it and every
	// earlier one are acknowledged; doneSlots counts their window slots not
	// yet released by a save.
	done      gocql.UUID
	doneSlots int
	saved     gocql.UUID
}

// change is one cdc$time of a stream and its events still unacknowledged.
type change struct {
	time  gocql.UUID
	slots int
	open  int
}

// begin records a change with n events; with none it counts as acknowledged.
func (t *tracker) begin(at gocql.UUID, n int) *change {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := &change{time: at, slots: n, open: n}
	t.open = append(t.open, c)
	t.advance()
	return c
}

// ack acknowledges one event of c and reports whether the checkpoint
// can move.
func (t *tracker) ack(c *change) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.open > 0 {
		c.open--
	}
	return t.advance()
}

// acked reports whether every event read so far is acknowledged.
func (t *tracker) acked() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.head == len(t.open)
}

// advance moves done past the acknowledged changes at the front.
func (t *tracker) advance() bool {
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

// toSave returns the checkpoint to save and the window slots a successful
// save releases; ok is false when nothing new was acknowledged.
func (t *tracker) toSave() (at gocql.UUID, slots int, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done == (gocql.UUID{}) || t.done == t.saved {
		return gocql.UUID{}, 0, false
	}
	return t.done, t.doneSlots, true
}

// markSaved records that the checkpoint at (from toSave) is durable.
func (t *tracker) markSaved(at gocql.UUID, slots int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if scyllacdc.CompareTimeUUID(t.saved, at) < 0 {
		t.saved = at
	}
	t.doneSlots -= slots
}

// lag is how long the oldest unacknowledged event of the stream has been
// committed: what the checkpoint holds back, which must stay well below
// the CDC log TTL. It is zero when everything read is acknowledged.
func (t *tracker) lag(now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head == len(t.open) {
		return 0
	}
	return max(now.Sub(t.open[t.head].time.Time()), 0)
}
