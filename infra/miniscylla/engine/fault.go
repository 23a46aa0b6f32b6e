package engine

import "fmt"

// faults are the tables whose writes fail at the server, so tests can show
// what a client sees when a write reaches the server and is refused there
// (e.g. that a LOGGED BATCH with one refused statement applies nothing),
// which bad input or a dropped table cannot show: those fail before anything
// is sent. The engine's write lock guards the map; the counter too.
type faults struct {
	tables map[string]bool // "keyspace.table"
	failed int64
}

// FailWrites makes every later write to keyspace.table fail at apply time,
// before any mutation of its request (a whole batch) is applied, until
// HealWrites. Reads are unaffected.
func (e *Engine) FailWrites(keyspace, table string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.faults.tables == nil {
		e.faults.tables = map[string]bool{}
	}
	e.faults.tables[keyspace+"."+table] = true
}

// HealWrites ends every FailWrites.
func (e *Engine) HealWrites() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults.tables = nil
}

// FailedWrites is the number of write requests FailWrites has refused.
func (e *Engine) FailedWrites() int64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.faults.failed
}

// faultLocked returns the error of the first mutation whose table fails
// writes; the caller holds the write lock.
func (e *Engine) faultLocked(muts []Mutation) error {
	if len(e.faults.tables) == 0 {
		return nil
	}
	for i := range muts {
		name := muts[i].Keyspace + "." + muts[i].Table
		if e.faults.tables[name] {
			e.faults.failed++
			return &Error{Code: CodeServer, Msg: fmt.Sprintf("write to %s failed (injected fault: FailWrites)", name)}
		}
	}
	return nil
}
