package membership

import (
	"errors"
	"fmt"
	"time"
)

// ErrDropped reports that this member's process stood still (SIGSTOP, a
// frozen VM, heavy swapping) for longer than its peers wait for a probe
// answer. They have dropped it, and protoactor keeps a dropped member's id
// blocked for good: the member can no longer reach its peers' grains nor
// be placed on, and only a restart, which joins under a new id, brings it
// back.
var ErrDropped = errors.New("cluster member stalled past its peers' dead-after")

// watchStalls looks at the clock every interval until done closes, and
// returns ErrDropped once two looks are more than deadAfter apart while
// this member had peers. It returns nil when done closes.
func watchStalls(done <-chan struct{}, every, deadAfter time.Duration, now func() time.Time, hadPeers func() bool) error {
	t := time.NewTicker(every)
	defer t.Stop()
	last := now()
	for {
		select {
		case <-done:
			return nil
		case <-t.C:
		}
		at := now()
		if stalled := at.Sub(last); stalled > deadAfter && hadPeers() {
			return fmt.Errorf("%w: stood still for %s, peers drop a member after %s; restart the node to rejoin", ErrDropped, stalled.Round(100*time.Millisecond), deadAfter)
		}
		last = at
	}
}
