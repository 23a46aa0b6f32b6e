// Package orderstest provides an in-memory orders.Store for tests of the command side,
// with failure injection and a record of every commit.
package orderstest

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/actors/orders"
)

var _ orders.Store = (*Store)(nil)

// Store keeps orders in memory. It is safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	rows     map[uuid.UUID]orders.State
	changes  []orders.Change
	loads    int
	failWith error
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{rows: map[uuid.UUID]orders.State{}}
}

// Load implements orders.Store.
func (s *Store) Load(_ context.Context, id uuid.UUID) (orders.State, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	if s.failWith != nil {
		return orders.State{}, false, s.failWith
	}
	st, ok := s.rows[id]
	return st, ok, nil
}

// Commit implements orders.Store.
func (s *Store) Commit(_ context.Context, c orders.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != nil {
		return s.failWith
	}
	s.rows[c.Order.OrderID] = c.Order
	s.changes = append(s.changes, c)
	return nil
}

// FailWith makes every later Load and Commit fail with err; nil heals the store.
func (s *Store) FailWith(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith = err
}

// Loads returns how many times Load was called.
func (s *Store) Loads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads
}

// Changes returns the committed changes in commit order.
func (s *Store) Changes() []orders.Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]orders.Change(nil), s.changes...)
}
