package checkpoint

import (
	"context"
	"testing"
	"time"

	"github.com/gocql/gocql"
)

func at(ms int64) gocql.UUID { return gocql.MinTimeUUID(time.UnixMilli(ms)) }

func TestTrackerMarksOnlyUpToContiguousAcks(t *testing.T) {
	var tr Tracker
	c1 := tr.Begin(at(1), 1)
	c2 := tr.Begin(at(2), 2) // two events in one change (a batch)
	c3 := tr.Begin(at(3), 1)
	if _, _, ok := tr.ToSave(); ok {
		t.Fatal("nothing acked, yet something to save")
	}
	tr.Ack(c3)
	tr.Ack(c2)
	if _, _, ok := tr.ToSave(); ok {
		t.Fatal("saved past the unacked change 1")
	}
	tr.Ack(c1)
	got, slots, ok := tr.ToSave()
	if !ok || got != at(1) || slots != 1 {
		t.Fatalf("toSave = %v %d %v, want change 1 and 1 slot", got.Time(), slots, ok)
	}
	tr.Ack(c2)
	got, slots, ok = tr.ToSave()
	if !ok || got != at(3) || slots != 4 {
		t.Fatalf("toSave = %v %d %v, want change 3 and 4 slots", got.Time(), slots, ok)
	}
	tr.MarkSaved(got, slots)
	if _, _, ok := tr.ToSave(); ok {
		t.Fatal("saved twice")
	}
}

func TestTrackerChangeWithoutEventsIsDone(t *testing.T) {
	var tr Tracker
	tr.Begin(at(5), 0)
	if got, slots, ok := tr.ToSave(); !ok || got != at(5) || slots != 0 {
		t.Fatalf("toSave = %v %d %v", got.Time(), slots, ok)
	}
}

func TestTrackerAckDuringSaveKeepsSlots(t *testing.T) {
	var tr Tracker
	c1 := tr.Begin(at(1), 1)
	c2 := tr.Begin(at(2), 1)
	tr.Ack(c1)
	got, slots, _ := tr.ToSave()
	tr.Ack(c2) // arrives while the save of change 1 is in flight
	tr.MarkSaved(got, slots)
	got, slots, ok := tr.ToSave()
	if !ok || got != at(2) || slots != 1 {
		t.Fatalf("toSave = %v %d %v, want change 2 with its slot", got.Time(), slots, ok)
	}
}

func TestTrackerLagIsAgeOfOldestUnacked(t *testing.T) {
	var tr Tracker
	now := time.UnixMilli(10_000)
	if tr.Lag(now, false) != 0 {
		t.Fatal("empty tracker lags")
	}
	c1 := tr.Begin(at(4_000), 1)
	tr.Begin(at(7_000), 1)
	if got := tr.Lag(now, false); got != 6*time.Second {
		t.Fatalf("lag %v, want 6s", got)
	}
	tr.Ack(c1)
	if got := tr.Lag(now, false); got != 3*time.Second {
		t.Fatalf("lag %v, want 3s", got)
	}
}

func TestWindowBlocksWhenFullAfterCallingFull(t *testing.T) {
	w := NewWindow(2)
	ctx := context.Background()
	fulls := 0
	full := func() { fulls++ }
	if err := w.Acquire(ctx, full); err != nil || w.Pressed() != true {
		t.Fatalf("acquire: %v, pressed %v", err, w.Pressed())
	}
	if err := w.Acquire(ctx, full); err != nil || fulls != 0 {
		t.Fatalf("acquire: %v, full called %d times", err, fulls)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := w.Acquire(short, full); err == nil || fulls != 1 {
		t.Fatalf("acquired a slot of a full window (%v), full called %d times", err, fulls)
	}
	w.Release(1)
	if err := w.Acquire(ctx, full); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerAckReportsCheckpointMoves(t *testing.T) {
	var tr Tracker
	c1 := tr.Begin(at(1), 1)
	c2 := tr.Begin(at(2), 1)
	if tr.Ack(c2) {
		t.Error("ack behind an open change moved the checkpoint")
	}
	if !tr.Ack(c1) {
		t.Error("ack of the head did not move the checkpoint")
	}
	for i := range 10 { // many changes: the head index compacts
		tr.Ack(tr.Begin(at(int64(10+i)), 1))
	}
	if got, _, _ := tr.ToSave(); got != at(19) || tr.Lag(time.UnixMilli(100), false) != 0 {
		t.Errorf("checkpoint %v", got.Time())
	}
}

// TestTrackerLagCountsUnreadChanges: a change the probe found after the
// position counts until the reader reaches it; a blind probe or a stopped
// reader count the position's age; an answer about an old position is
// ignored.
func TestTrackerLagCountsUnreadChanges(t *testing.T) {
	var tr Tracker
	now := time.UnixMilli(10_000)
	tr.Reached(at(2_000), now)
	pos, _ := tr.Position()
	tr.Probed(pos, at(5_000), false)
	if got := tr.Lag(now, false); got != 5*time.Second {
		t.Fatalf("lag with an unread change at 5 s = %v, want 5s", got)
	}
	c := tr.Begin(at(3_000), 1) // read, not acknowledged: older than the unread one
	if got := tr.Lag(now, false); got != 7*time.Second {
		t.Fatalf("lag = %v, want 7s", got)
	}
	tr.Ack(c)
	tr.Reached(at(5_000), now) // the reader got to the unread change
	if got := tr.Lag(now, false); got != 0 {
		t.Fatalf("lag after the reader caught up = %v, want 0", got)
	}
	tr.Probed(pos, at(6_000), false) // about the old position: stale
	if got := tr.Lag(now, false); got != 0 {
		t.Fatalf("a stale probe answer counted: lag %v", got)
	}
	pos, _ = tr.Position()
	tr.Probed(pos, gocql.UUID{}, true)
	if got := tr.Lag(now, false); got != 5*time.Second {
		t.Fatalf("blind lag = %v, want the position's age 5s", got)
	}
	tr.Probed(pos, gocql.UUID{}, false)
	if got := tr.Lag(now, true); got != 5*time.Second {
		t.Fatalf("lag of a stopped reader = %v, want the position's age 5s", got)
	}
}
