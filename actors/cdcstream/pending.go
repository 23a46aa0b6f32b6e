package cdcstream

import "time"

// pending holds the deliveries sent to the publisher and not yet
// acknowledged, in delivery order (re-sends keep per-aggregate order). Its
// size is bounded by the source's in-flight window.
type pending struct {
	order []*inflight
	byID  map[string][]*inflight
}

type inflight struct {
	d      *Delivery
	sentAt time.Time
	acked  bool
}

func newPending() *pending { return &pending{byID: make(map[string][]*inflight)} }

func (p *pending) add(d *Delivery, now time.Time) {
	in := &inflight{d: d, sentAt: now}
	p.order = append(p.order, in)
	id := d.Request.GetEvent().GetEventId()
	p.byID[id] = append(p.byID[id], in)
}

// ack acknowledges every delivery of the event; repeated or unknown acks
// (after a re-send, or from before a restart) do nothing.
func (p *pending) ack(eventID string) {
	for _, in := range p.byID[eventID] {
		in.acked = true
		in.d.Ack()
	}
	delete(p.byID, eventID)
}

// stale drops acknowledged entries and returns, oldest first, the
// deliveries sent at least after ago, marking them sent now.
func (p *pending) stale(now time.Time, after time.Duration) []*Delivery {
	var out []*Delivery
	kept := p.order[:0]
	for _, in := range p.order {
		if in.acked {
			continue
		}
		kept = append(kept, in)
		if now.Sub(in.sentAt) >= after {
			in.sentAt = now
			out = append(out, in.d)
		}
	}
	clear(p.order[len(kept):])
	p.order = kept
	return out
}

func (p *pending) len() int { return len(p.byID) }
