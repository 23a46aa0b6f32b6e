package engine

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/google/uuid"

	"github.com/outboxnode/outbox/infra/miniscylla/wal"
)

// Durability: with Config.DataDir set, the engine keeps a write-ahead log
// (package wal) and rebuilds its state from it at start-up.
//
//   - Writes: applyLocked appends one record holding the mutations it applied
//     and the CDC log mutations derived from them, under the write lock so the
//     log order is the apply order; the request waits for the group fsync
//     after releasing the lock, and only then is acknowledged. Replay applies
//     the recorded mutations as they are, so timestamps, TTL expiries,
//     cdc$time values and list keys come back identical.
//   - Schema changes: the statement text and session keyspace, appended
//     under the write lock by ddl and truncate, re-executed on replay.
//   - The CDC generation (time and stream seed) is the first record, so
//     scylla-cdc-go readers find the same streams after a restart.
//   - Checkpoints rewrite the log as its current state when it has grown
//     (durable_checkpoint.go).
//   - A failed write or fsync (a full disk) fails the writes whose records
//     it held: their clients get a server error, never an acknowledgement.
//     Further writes are refused while the log is failed; reads of durable
//     data go on. A background healer then resets the log to its last
//     durable byte and rebuilds the engine's state from the log, so that
//     the changes the failed writes applied in memory are gone, and writes
//     resume without a restart once the disk takes them again.
//
// Reads: a SELECT (or LWT) result is sent only once the records it depends
// on are durable, so no client, a CDC reader included, ever sees a write
// that a crash could take back. Storage stamps every row, and each
// partition's own state, with the number of the log record that last
// changed it (storage.go); a SELECT waits for the highest stamp among the
// partitions and rows it looked at, and for the last schema change, so a
// read of settled data (a CDC reader behind its confidence window) does not
// queue behind the fsync of unrelated writes. An LWT waits for everything
// appended before its read or, when it applied, up to its own record; a
// read that finds no write pending pays nothing.
type durable struct {
	wal walLog
	// ddlMu serialises schema changes so that ddlRec is the running one's record.
	ddlMu  sync.Mutex
	ddlRec []byte

	// The fields below are guarded by the engine's write lock.
	// ddls are the schema change records so far, for checkpoints.
	ddls [][]byte
	// schemaSeq is the number of the last schema change (or truncate)
	// record; every read depends on it.
	schemaSeq uint64
	// checkpointAt is the log size that triggers the next checkpoint, never
	// below minCheckpoint (durable_checkpoint.go).
	checkpointAt, minCheckpoint int64
	// ddlSeq is the running schema change's record number, guarded by ddlMu.
	ddlSeq uint64

	// healing is set while a healer goroutine runs; closed ends it.
	healing   atomic.Bool
	closed    chan struct{}
	closeOnce sync.Once
	// healed is when the last heal succeeded; only the healer uses it.
	healed time.Time
}

// healEvery spaces the healer's attempts: each reset rebuilds the state
// from the whole log under the write lock, which a disk that is still full
// would otherwise repeat for every write. The first heal after a quiet
// spell runs at once, so that reads that looked at a failed write's rows
// fail only briefly.
const healEvery = 500 * time.Millisecond

// walLog is what the engine needs of its write-ahead log (*wal.Log).
type walLog interface {
	Append(payload []byte) error
	Appended() uint64
	Sync() error
	SyncTo(n uint64) error
	Err() error
	Reset() error
	Records(fn func(payload []byte) error) error
	Size() int64
	Rewrite(write func(emit func(payload []byte) error) error) error
	Close() error
}

var _ walLog = (*wal.Log)(nil)

// openDurable replays the log in Config.DataDir, if any, then starts logging.
// New calls it once, after the system keyspaces and CDC state exist.
func (e *Engine) openDurable() error {
	if e.cfg.DataDir == "" {
		return nil
	}
	var (
		ddls     [][]byte
		replayed int
	)
	log, err := wal.Open(e.cfg.DataDir, wal.Options{Logger: e.cfg.Logger, Recovery: e.cfg.WALRecovery}, e.replayer(&ddls, &replayed))
	if err != nil {
		return fmt.Errorf("engine: open data dir: %w", err)
	}
	if replayed == 0 {
		gen := e.cdc.log.Generation()
		if err := appendSync(log, encodeGeneration(gen.Time.UnixNano(), e.cdc.seed)); err != nil {
			return errors.Join(fmt.Errorf("engine: persist cdc generation: %w", err), log.Close())
		}
	}
	e.dur = &durable{wal: log, ddls: ddls, minCheckpoint: checkpointMinBytes, closed: make(chan struct{})}
	e.dur.checkpointAt = max(checkpointMinBytes, 2*log.Size())
	return nil
}

// replayer returns the function that applies each record of a log to e,
// counting them in n and collecting the schema change and stream set
// records in ddls (a checkpoint keeps them).
func (e *Engine) replayer(ddls *[][]byte, n *int) func(p []byte) error {
	return func(p []byte) error {
		if err := e.replay(p, *n == 0); err != nil {
			return err
		}
		*n++
		if p[0] == recDDL || p[0] == recStreamSet {
			*ddls = append(*ddls, bytes.Clone(p))
		}
		return nil
	}
}

func appendSync(l *wal.Log, rec []byte) error {
	if err := l.Append(rec); err != nil {
		return err
	}
	return l.Sync()
}

// replay applies one log record; first is true for the log's first record,
// which must be the CDC generation. A record that passed its checksum yet
// cannot be applied (a bug, or a log from another version) is an error,
// never a crash.
func (e *Engine) replay(p []byte, first bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: applying it failed: %v", ErrBadRecord, r)
		}
	}()
	if len(p) == 0 {
		return fmt.Errorf("%w: empty", ErrBadRecord)
	}
	r := &recDecoder{b: p[1:]}
	if first != (p[0] == recGeneration) {
		return fmt.Errorf("%w: the cdc generation must be the first record, found kind %d", ErrBadRecord, p[0])
	}
	switch p[0] {
	case recGeneration:
		genTime, seed := r.int(), r.uint()
		if err := r.done(); err != nil {
			return err
		}
		s, err := cdcStateFor(time.Unix(0, genTime), seed)
		if err != nil {
			return err
		}
		e.cdc = s
		return nil
	case recDDL:
		ks, query := r.str(), r.str()
		if err := r.done(); err != nil {
			return err
		}
		return e.replayDDL(ks, query)
	case recStreamSet:
		ks, table, millis, tablets, seed := r.str(), r.str(), r.int(), r.uint(), r.uint()
		if err := r.done(); err != nil {
			return err
		}
		if err := e.replayStreamSet(ks, table, millis, int(min(tablets, 1<<31)), seed); err != nil {
			return fmt.Errorf("%w: stream set of %s.%s: %w", ErrBadRecord, ks, table, err)
		}
		return nil
	case recWrite:
		now := r.int()
		muts := make([]Mutation, r.count())
		for i := range muts {
			muts[i] = r.mutation()
		}
		if err := r.done(); err != nil {
			return err
		}
		return e.replayWrite(now, muts)
	}
	return fmt.Errorf("%w: unknown kind %d", ErrBadRecord, p[0])
}

func (e *Engine) replayDDL(ks, query string) error {
	c, err := e.compile(ks, query)
	if err != nil {
		return fmt.Errorf("%w: schema change %q: %w", ErrBadRecord, query, err)
	}
	if _, err := e.runDDL(&Session{Keyspace: ks}, c.stmt); err != nil {
		return fmt.Errorf("%w: schema change %q: %w", ErrBadRecord, query, err)
	}
	return nil
}

// replayWrite applies logged mutations as they are: checks and CDC ran
// when they were first applied, and their log mutations are in muts.
func (e *Engine) replayWrite(now int64, muts []Mutation) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range muts {
		td := e.data[muts[i].Keyspace+"."+muts[i].Table]
		if td == nil {
			return fmt.Errorf("%w: write: %w", ErrBadRecord, unconfiguredTable(muts[i].Keyspace, muts[i].Table))
		}
		td.applyMutation(&muts[i], now, 0)
	}
	e.maybeCompact(len(muts), now)
	return nil
}

// logWriteLocked appends the record of one apply; the caller holds the
// write lock, which orders the records as the applies.
func (e *Engine) logWriteLocked(now int64, muts, cdcMuts []Mutation) error {
	if e.dur == nil {
		return nil
	}
	if err := e.dur.wal.Append(encodeWrite(now, muts, cdcMuts)); err != nil {
		return e.logError(err)
	}
	e.maybeCheckpointLocked(now)
	return nil
}

// logFailedLocked refuses a write while the log is failed: what it applied
// could not be made durable, and the healer rebuilds the state from the
// log anyway. The caller holds the write lock.
func (e *Engine) logFailedLocked() error {
	if e.dur == nil {
		return nil
	}
	if err := e.dur.wal.Err(); err != nil {
		return e.logError(err)
	}
	return nil
}

// logError turns a failure of the log into the client's server error and
// makes sure a healer runs.
func (e *Engine) logError(err error) error {
	e.startHealer()
	return &Error{Code: CodeServer, Msg: fmt.Sprintf("write-ahead log: %v; the write was not applied", err)}
}

// allRecords, as a read's seq, makes it wait for every record appended.
const allRecords = ^uint64(0)

// nextRecordLocked is the number the next log record will get (0 without
// a log), with which applyLocked stamps what it changes: only the write
// lock holder appends. The caller holds the write lock.
func (e *Engine) nextRecordLocked() uint64 {
	return e.lastRecordLocked() + 1
}

// lastRecordLocked is the number of the last record appended (0 without a
// log): a write waits for its own, an LWT for all those it could have read.
func (e *Engine) lastRecordLocked() uint64 {
	if e.dur == nil {
		return 0
	}
	return e.dur.wal.Appended()
}

// readFloorLocked is the seq every read of td depends on, whatever rows it
// looks at: the last schema change and the partitions compaction dropped.
// The caller holds the read lock.
func (e *Engine) readFloorLocked(td *tableData) uint64 {
	if e.dur == nil {
		return 0
	}
	return max(e.dur.schemaSeq, td.removedSeq)
}

// waitDurableTo waits until records 1 to seq are fsynced; a record lost by
// a failed write is an error. Callers must not hold the write lock.
func (e *Engine) waitDurableTo(seq uint64) error {
	if e.dur == nil {
		return nil
	}
	if err := e.dur.wal.SyncTo(seq); err != nil {
		return e.logError(err)
	}
	return nil
}

// durableRead returns a result once the records up to seq, those it
// depends on, are durable.
func (e *Engine) durableRead(res message.Message, seq uint64, err error) (message.Message, error) {
	if err != nil {
		return nil, err
	}
	if err := e.waitDurableTo(seq); err != nil {
		return nil, err
	}
	return res, nil
}

// runDDLDurable runs a schema change statement, making its record (c.query
// in the session's keyspace) available to logDDLLocked while it runs, and
// answers once that record (or, for a change that changed nothing, every
// record so far) is durable.
func (e *Engine) runDDLDurable(sess *Session, c *compiled) (message.Message, error) {
	if e.dur == nil {
		return e.runDDL(sess, c.stmt)
	}
	return e.durableRead(func() (message.Message, uint64, error) {
		e.dur.ddlMu.Lock()
		defer e.dur.ddlMu.Unlock()
		e.dur.ddlRec, e.dur.ddlSeq = encodeDDL(sess.Keyspace, c.query), 0
		defer func() { e.dur.ddlRec = nil }()
		res, err := e.runDDL(sess, c.stmt)
		if e.dur.ddlSeq == 0 {
			return res, e.dur.wal.Appended(), err
		}
		return res, e.dur.ddlSeq, err
	}())
}

// logDDLLocked appends the running schema change's record; ddl and
// truncate call it under the write lock once the change applied.
func (e *Engine) logDDLLocked() error {
	if e.dur == nil || e.dur.ddlRec == nil {
		return nil
	}
	if err := e.dur.wal.Append(e.dur.ddlRec); err != nil {
		return e.logError(err)
	}
	e.dur.ddls = append(e.dur.ddls, e.dur.ddlRec)
	e.dur.schemaSeq = e.dur.wal.Appended()
	e.dur.ddlSeq = e.dur.schemaSeq
	return nil
}

// startHealer runs the healer unless one runs already.
func (e *Engine) startHealer() {
	if e.dur.healing.CompareAndSwap(false, true) {
		go e.heal()
	}
}

// heal retries, every healEvery, to reset the failed log and rebuild the
// state from it, until that works or the engine closes. A failure that
// happens after it succeeded starts it again.
func (e *Engine) heal() {
	for {
		e.healLoop()
		e.dur.healing.Store(false)
		if e.dur.wal.Err() == nil || !e.dur.healing.CompareAndSwap(false, true) {
			return
		}
	}
}

func (e *Engine) healLoop() {
	t := time.NewTimer(max(time.Until(e.dur.healed.Add(healEvery)), 0))
	defer t.Stop()
	for {
		select {
		case <-e.dur.closed:
			return
		case <-t.C:
		}
		err := e.healOnce()
		if err == nil {
			e.dur.healed = time.Now()
			return
		}
		e.cfg.Logger.Warn("write-ahead log still failing; writes stay refused", "err", err, "retry_in", healEvery)
		t.Reset(healEvery)
	}
}

// healOnce resets the log and, under the write lock, replaces the state
// with the one its durable records describe: the changes of the writes
// that failed were applied in memory but never acknowledged.
func (e *Engine) healOnce() error {
	e.mu.Lock()
	err := func() error {
		if e.dur.wal.Err() == nil {
			return nil
		}
		if err := e.dur.wal.Reset(); err != nil {
			return err
		}
		return e.reloadLocked()
	}()
	e.mu.Unlock()
	if err != nil {
		return err
	}
	// Compiled statements hold the replaced schema's tables.
	e.prepMu.Lock()
	clear(e.prepared)
	e.prepMu.Unlock()
	return nil
}

// reloadLocked rebuilds the catalog, the data and the CDC state from the
// log's durable records. The caller holds the write lock.
func (e *Engine) reloadLocked() error {
	cfg := e.cfg
	cfg.OnSchemaChange, cfg.DataDir = nil, ""
	fresh, err := newEngine(cfg)
	if err != nil {
		return err
	}
	var (
		ddls [][]byte
		n    int
	)
	if err := e.dur.wal.Records(fresh.replayer(&ddls, &n)); err != nil {
		return fmt.Errorf("engine: rebuild from the write-ahead log: %w", err)
	}
	e.keyspaces, e.data, e.cdc = fresh.keyspaces, fresh.data, fresh.cdc
	e.applied, e.lastCompact = fresh.applied, fresh.lastCompact
	e.schemaVersion = uuid.New()
	e.dur.ddls, e.dur.schemaSeq = ddls, 0
	e.cfg.Logger.Warn("write-ahead log recovered: state rebuilt from its durable records; writes accepted again", "records", n)
	return nil
}

// closeDurable stops the healer, flushes and closes the log.
func (e *Engine) closeDurable() error {
	if e.dur == nil {
		return nil
	}
	e.dur.closeOnce.Do(func() { close(e.dur.closed) })
	return e.dur.wal.Close()
}
