package lease

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/infra/scylla"
)

// ProgressManager is scylla-cdc-go's progress for one shard's table, kept
// in the shard's lease partition and written only while the lease's epoch
// is current: a write of a fenced epoch returns a *FencedError and changes
// nothing.
type ProgressManager struct {
	session  *gocql.Session
	table    string // keyspace.outbox_shard_leases
	cdcTable string // keyspace.outbox_shard_<k>, as the reader names it
	shard    int
	epoch    int64
	ttl      int // seconds
}

var _ scyllacdc.ProgressManager = (*ProgressManager)(nil)

// Progress returns the progress manager of lease's shard, fenced by its epoch.
func (l *Leases) Progress(lease Lease) *ProgressManager {
	return &ProgressManager{
		session:  l.session,
		table:    l.table,
		cdcTable: l.cfg.Keyspace + "." + scylla.ShardTableName(lease.Shard),
		shard:    lease.Shard,
		epoch:    lease.Epoch,
		ttl:      int(l.cfg.ProgressTTL.Seconds()),
	}
}

// GetCurrentGeneration implements scyllacdc.ProgressManager.
func (p *ProgressManager) GetCurrentGeneration(ctx context.Context) (time.Time, error) {
	var gen time.Time
	err := p.session.Query(fmt.Sprintf("SELECT current_generation FROM %s WHERE shard = ? LIMIT 1", p.table), p.shard).
		WithContext(ctx).Scan(&gen)
	if err != nil && !errors.Is(err, gocql.ErrNotFound) {
		return time.Time{}, fmt.Errorf("read shard %d generation: %w", p.shard, err)
	}
	return gen, nil
}

// StartGeneration implements scyllacdc.ProgressManager.
func (p *ProgressManager) StartGeneration(ctx context.Context, gen time.Time) error {
	return p.fenced(ctx, "start generation",
		fmt.Sprintf("UPDATE %s SET current_generation = ? WHERE shard = ? IF epoch = ?", p.table),
		gen, p.shard, p.epoch)
}

// GetProgress implements scyllacdc.ProgressManager.
func (p *ProgressManager) GetProgress(ctx context.Context, gen time.Time, table string, streamID scyllacdc.StreamID) (scyllacdc.Progress, error) {
	if err := p.checkTable(table); err != nil {
		return scyllacdc.Progress{}, err
	}
	var last gocql.UUID
	err := p.session.Query(fmt.Sprintf("SELECT last_timestamp FROM %s WHERE shard = ? AND generation = ? AND stream_id = ?", p.table),
		p.shard, gen, []byte(streamID)).WithContext(ctx).Scan(&last)
	if err != nil && !errors.Is(err, gocql.ErrNotFound) {
		return scyllacdc.Progress{}, fmt.Errorf("read shard %d progress: %w", p.shard, err)
	}
	return scyllacdc.Progress{LastProcessedRecordTime: last}, nil
}

// SaveProgress implements scyllacdc.ProgressManager.
func (p *ProgressManager) SaveProgress(ctx context.Context, gen time.Time, table string, streamID scyllacdc.StreamID, progress scyllacdc.Progress) error {
	if err := p.checkTable(table); err != nil {
		return err
	}
	return p.fenced(ctx, "save progress",
		fmt.Sprintf("UPDATE %s USING TTL ? SET last_timestamp = ? WHERE shard = ? AND generation = ? AND stream_id = ? IF epoch = ?", p.table),
		p.ttl, progress.LastProcessedRecordTime, p.shard, gen, []byte(streamID), p.epoch)
}

// fenced runs an LWT conditional on the manager's epoch.
func (p *ProgressManager) fenced(ctx context.Context, op, stmt string, args ...any) error {
	applied, prev, err := cas(ctx, p.session, stmt, args...)
	if err != nil {
		return fmt.Errorf("%s of shard %d: %w", op, p.shard, err)
	}
	if !applied {
		found, _ := prev["epoch"].(int64)
		return fmt.Errorf("%s: %w", op, &FencedError{Shard: p.shard, Epoch: p.epoch, FoundEpoch: found})
	}
	return nil
}

// checkTable refuses progress of another table: the reader of this shard
// must read its table only.
func (p *ProgressManager) checkTable(table string) error {
	if table != p.cdcTable {
		return fmt.Errorf("shard %d progress is for table %s, not %s", p.shard, p.cdcTable, table)
	}
	return nil
}
