package kafka

import (
	"sync"
)

// batch collects the outcomes of one publish call. Acks arrive on the drain
// goroutine, possibly after the caller gave up (abandon), so every access is
// locked and late outcomes are ignored.
type batch struct {
	mu        sync.Mutex
	topics    []string // set when a record is handed to sarama
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

func newBatch(n int) *batch {
	b := &batch{
		topics:  make([]string, n),
		errs:    make([]error, n),
		pending: make([]bool, n),
		left:    n,
		done:    make(chan struct{}),
	}
	for i := range b.pending {
		b.pending[i] = true
	}
	if n == 0 {
		close(b.done)
	}
	return b
}

func (b *batch) sending(i int, topic string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.topics[i] = topic
}

func (b *batch) topic(i int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.topics[i]
}

// resolve records the outcome of record i: nil or a *PublishError.
func (b *batch) resolve(i int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.abandoned || !b.pending[i] {
		return
	}
	b.pending[i] = false
	b.errs[i] = err
	b.left--
	if b.left == 0 {
		close(b.done)
	}
}

// abandon fails the records still pending with cause and ignores later outcomes.
func (b *batch) abandon(cause error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, p := range b.pending {
		if p {
			b.errs[i] = &PublishError{Kind: Classify(cause), Topic: b.topics[i], Err: cause}
		}
	}
	b.abandoned = true
}

func (b *batch) results() []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]error(nil), b.errs...)
}
