// Package dlqtest provides an in-memory dlq.Store for tests of the relay
// actors, standing in for infra/scylla.DLQStore.
package dlqtest

import (
	"context"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/actors/dlq"
	"github.com/outboxnode/outbox/messages"
)

// MemoryStore is a dlq.Store in memory. Like a real store it copies entries
// in and out, so callers may keep and change what they passed or got. It is
// safe for concurrent use.
type MemoryStore struct {
	mu      sync.Mutex
	entries map[string]*messages.DeadLetter
	err     error
}

var _ dlq.Store = (*MemoryStore)(nil)

// NewMemoryStore returns a store holding seed.
func NewMemoryStore(seed ...*messages.DeadLetter) *MemoryStore {
	s := &MemoryStore{entries: make(map[string]*messages.DeadLetter)}
	for _, e := range seed {
		s.entries[e.GetEvent().GetEventId()] = proto.Clone(e).(*messages.DeadLetter)
	}
	return s
}

// SetError makes every call fail with err (nil heals the store).
func (s *MemoryStore) SetError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// Put implements dlq.Store.
func (s *MemoryStore) Put(_ context.Context, entries []*messages.DeadLetter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	for _, e := range entries {
		s.entries[e.GetEvent().GetEventId()] = proto.Clone(e).(*messages.DeadLetter)
	}
	return nil
}

// Get implements dlq.Store.
func (s *MemoryStore) Get(_ context.Context, eventID string) (*messages.DeadLetter, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, false, s.err
	}
	e, ok := s.entries[eventID]
	if !ok {
		return nil, false, nil
	}
	return proto.Clone(e).(*messages.DeadLetter), true, nil
}

// List implements dlq.Store.
func (s *MemoryStore) List(context.Context) ([]*messages.DeadLetter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	out := make([]*messages.DeadLetter, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, proto.Clone(e).(*messages.DeadLetter))
	}
	return out, nil
}

// State returns the state of eventID's entry, UNSPECIFIED when absent.
func (s *MemoryStore) State(eventID string) messages.DeadLetterState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries[eventID].GetState()
}

// Len returns the number of entries.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}
