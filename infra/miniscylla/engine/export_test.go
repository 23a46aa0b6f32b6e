package engine

import "testing"

// SetLWTHook makes every LWT call hook between its read and its write,
// holding its partition's LWT lock and no engine lock, until the test ends.
func SetLWTHook(tb testing.TB, hook func(e *Engine, keyspace, table string, key []byte)) {
	lwtHook.Store(&hook)
	tb.Cleanup(func() { lwtHook.Store(nil) })
}

// LWTsOn is the number of LWTs that hold or wait for the LWT lock of a
// partition.
func (e *Engine) LWTsOn(keyspace, table string, key []byte) int {
	e.lwtLocks.mu.Lock()
	defer e.lwtLocks.mu.Unlock()
	if pl := e.lwtLocks.locks[partitionID{table: keyspace + "." + table, key: string(key)}]; pl != nil {
		return pl.users
	}
	return 0
}
