package lease

import (
	"errors"
	"fmt"
	"time"
)

// Sentinels wrapped by the typed errors below, for errors.Is.
var (
	// ErrNotAcquired: another node holds the shard's unexpired lease, or
	// took it between this node's read and its LWT.
	ErrNotAcquired = errors.New("shard lease not acquired")
	// ErrLost: the lease moved on (another owner or epoch) since this node
	// took it; the node must stop relaying the shard.
	ErrLost = errors.New("shard lease lost")
	// ErrFenced: a progress write carried an epoch that no longer owns the
	// shard, so it was not applied.
	ErrFenced = errors.New("shard progress write fenced")
)

// HeldError is ErrNotAcquired with the lease as the store had it.
type HeldError struct {
	Shard     int
	Owner     string
	Epoch     int64
	ExpiresAt time.Time
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("shard %d lease held by %q (epoch %d, expires %s)",
		e.Shard, e.Owner, e.Epoch, e.ExpiresAt.UTC().Format(time.RFC3339Nano))
}

func (e *HeldError) Unwrap() error { return ErrNotAcquired }

// LostError is ErrLost with the epoch this node held and the lease found.
type LostError struct {
	Shard      int
	Epoch      int64
	FoundOwner string
	FoundEpoch int64
}

func (e *LostError) Error() string {
	return fmt.Sprintf("shard %d lease of epoch %d lost: now owner %q, epoch %d", e.Shard, e.Epoch, e.FoundOwner, e.FoundEpoch)
}

func (e *LostError) Unwrap() error { return ErrLost }

// FencedError is ErrFenced with the epoch the writer held and the one found.
type FencedError struct {
	Shard      int
	Epoch      int64
	FoundEpoch int64
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("shard %d progress write of epoch %d fenced: the lease is at epoch %d", e.Shard, e.Epoch, e.FoundEpoch)
}

func (e *FencedError) Unwrap() error { return ErrFenced }

// LayoutError: the store's shard tables were created for another shard
// count than the node's, so orders would hash to other shards.
type LayoutError struct {
	Stored, Configured int
}

func (e *LayoutError) Error() string {
	return fmt.Sprintf("outbox shard layout mismatch: the store was created with %d shards, this node has --outbox-shards %d", e.Stored, e.Configured)
}
