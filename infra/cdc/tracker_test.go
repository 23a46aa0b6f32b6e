package cdc

import (
	"context"
	"testing"
	"time"

	"github.com/gocql/gocql"
)

func at(ms int64) gocql.UUID { return gocql.MinTimeUUID(time.UnixMilli(ms)) }

func TestTrackerMarksOnlyUpToContiguousAcks(t *testing.T) {
	var tr tracker
	c1 := tr.begin(at(1), 1)
	c2 := tr.begin(at(2), 2) // two events in one change (a batch)
	c3 := tr.begin(at(3), 1)
	if _, _, ok := tr.toSave(); ok {
		t.Fatal("nothing acked, yet something to save")
	}
	tr.ack(c3)
	tr.ack(c2)
	if _, _, ok := tr.toSave(); ok {
		t.Fatal("saved past the unacked change 1")
	}
	tr.ack(c1)
	got, slots, ok := tr.toSave()
	if !ok || got != at(1) || slots != 1 {
		t.Fatalf("toSave = %v %d %v, want change 1 and 1 slot", got.Time(), slots, ok)
	}
	tr.ack(c2)
	got, slots, ok = tr.toSave()
	if !ok || got != at(3) || slots != 4 {
		t.Fatalf("toSave = %v %d %v, want change 3 and 4 slots", got.Time(), slots, ok)
	}
	tr.markSaved(got, slots)
	if _, _, ok := tr.toSave(); ok {
		t.Fatal("saved twice")
	}
}

func TestTrackerChangeWithoutEventsIsDone(t *testing.T) {
	var tr tracker
	tr.begin(at(5), 0)
	if got, slots, ok := tr.toSave(); !ok || got != at(5) || slots != 0 {
		t.Fatalf("toSave = %v %d %v", got.Time(), slots, ok)
	}
}

func TestTrackerAckDuringSaveKeepsSlots(t *testing.T) {
	var tr tracker
	c1 := tr.begin(at(1), 1)
	c2 := tr.begin(at(2), 1)
	tr.ack(c1)
	got, slots, _ := tr.toSave()
	tr.ack(c2) // arrives while the save of change 1 is in flight
	tr.markSaved(got, slots)
	got, slots, ok := tr.toSave()
	if !ok || got != at(2) || slots != 1 {
		t.Fatalf("toSave = %v %d %v, want change 2 with its slot", got.Time(), slots, ok)
	}
}

func TestTrackerLagIsAgeOfOldestUnacked(t *testing.T) {
	var tr tracker
	now := time.UnixMilli(10_000)
	if tr.lag(now, false) != 0 {
		t.Fatal("empty tracker lags")
	}
	c1 := tr.begin(at(4_000), 1)
	tr.begin(at(7_000), 1)
	if got := tr.lag(now, false); got != 6*time.Second {
		t.Fatalf("lag %v, want 6s", got)
	}
	tr.ack(c1)
	if got := tr.lag(now, false); got != 3*time.Second {
		t.Fatalf("lag %v, want 3s", got)
	}
}

func TestWindowBlocksWhenFullAfterCallingFull(t *testing.T) {
	w := newWindow(2)
	ctx := context.Background()
	fulls := 0
	full := func() { fulls++ }
	if err := w.acquire(ctx, full); err != nil || w.pressed() != true {
		t.Fatalf("acquire: %v, pressed %v", err, w.pressed())
	}
	if err := w.acquire(ctx, full); err != nil || fulls != 0 {
		t.Fatalf("acquire: %v, full called %d times", err, fulls)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := w.acquire(short, full); err == nil || fulls != 1 {
		t.Fatalf("acquired a slot of a full window (%v), full called %d times", err, fulls)
	}
	w.release(1)
	if err := w.acquire(ctx, full); err != nil {
		t.Fatal(err)
	}
}

func TestTrackerAckReportsCheckpointMoves(t *testing.T) {
	var tr tracker
	c1 := tr.begin(at(1), 1)
	c2 := tr.begin(at(2), 1)
	if tr.ack(c2) {
		t.Error("ack behind an open change moved the checkpoint")
	}
	if !tr.ack(c1) {
		t.Error("ack of the head did not move the checkpoint")
	}
	for i := range 10 { // many changes: the head index compacts
		tr.ack(tr.begin(at(int64(10+i)), 1))
	}
	if got, _, _ := tr.toSave(); got != at(19) || tr.lag(time.UnixMilli(100), false) != 0 {
		t.Errorf("checkpoint %v", got.Time())
	}
}

// TestConfigDefaultsAndValidate: the required fields alone make a valid
// config once defaulted; each bad field is refused.
func TestConfigDefaultsAndValidate(t *testing.T) {
	c := Config{Keyspace: "ks", ChangeAgeLimit: time.Hour}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]func(*Config){
		"no keyspace":  func(c *Config) { c.Keyspace = "" },
		"no age limit": func(c *Config) { c.ChangeAgeLimit = 0 },
		"window":       func(c *Config) { c.InFlight = -1 },
		"delay":        func(c *Config) { c.PollDelay = -time.Second },
	} {
		b := c
		bad(&b)
		if err := b.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestTrackerLagCountsUnreadChanges: a change the probe found after the
// position counts until the reader reaches it; a blind probe or a stopped
// reader count the position's age; an answer about an old position is
// ignored.
func TestTrackerLagCountsUnreadChanges(t *testing.T) {
	var tr tracker
	now := time.UnixMilli(10_000)
	tr.reached(at(2_000), now)
	pos, _ := tr.position()
	tr.probed(pos, at(5_000), false)
	if got := tr.lag(now, false); got != 5*time.Second {
		t.Fatalf("lag with an unread change at 5 s = %v, want 5s", got)
	}
	c := tr.begin(at(3_000), 1) // read, not acknowledged: older than the unread one
	if got := tr.lag(now, false); got != 7*time.Second {
		t.Fatalf("lag = %v, want 7s", got)
	}
	tr.ack(c)
	tr.reached(at(5_000), now) // the reader got to the unread change
	if got := tr.lag(now, false); got != 0 {
		t.Fatalf("lag after the reader caught up = %v, want 0", got)
	}
	tr.probed(pos, at(6_000), false) // about the old position: stale
	if got := tr.lag(now, false); got != 0 {
		t.Fatalf("a stale probe answer counted: lag %v", got)
	}
	pos, _ = tr.position()
	tr.probed(pos, gocql.UUID{}, true)
	if got := tr.lag(now, false); got != 5*time.Second {
		t.Fatalf("blind lag = %v, want the position's age 5s", got)
	}
	tr.probed(pos, gocql.UUID{}, false)
	if got := tr.lag(now, true); got != 5*time.Second {
		t.Fatalf("lag of a stopped reader = %v, want the position's age 5s", got)
	}
}
