package kafka

import (
	"sync"
)

// batch collects the outcomes of one PublishRecords call. Acks arrive on the
// drain goroutine, possibly after the caller gave up (abandon), so every
// access is locked and late outcomes are ignored.
type batch struct {
	mu        sync.Mutex
	topics    []string
	errs      []error
	pending   []bool
	left      int
	abandoned bool
	done      chan struct{}
}

// ticket travels in sarama's ProducerMessage.Metadata back to its batch slot.
type ticket struct {
	b *batch
	i int
}

func (t ticket) resolve(err error) { t.b.resolve(t.i, err) }

func newBatch(records []Record) *batch {
	b := &batch{
		topics:  make([]string, len(records)),
		errs:    make([]error, len(records)),
		pending: make([]bool, len(records)),
		left:    len(records),
		done:    make(chan struct{}),
	}
	for i, r := range records {
		b.topics[i] = r.Topic
		b.pending[i] = true
	}
	if b.left == 0 {
		close(b.done)
	}
	return b
}

// resolve records the outcome of record i; err is classified into a
// *PublishError.
func (b *batch) resolve(i int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.abandoned || !b.pending[i] {
		return
	}
	b.pending[i] = false
	if err != nil {
		b.errs[i] = &PublishError{Kind: Classify(err), Topic: b.topics[i], Err: err}
	}
	b.left--
	if b.left == 0 {
		close(b.done)
	}
}

// abandon fails the records still pending with err and ignores later outcomes.
func (b *batch) abandon(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, p := range b.pending {
		if p {
			b.errs[i] = &PublishError{Kind: Classify(err), Topic: b.topics[i], Err: err}
		}
	}
	b.abandoned = true
}

func (b *batch) results() []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]error(nil), b.errs...)
}
