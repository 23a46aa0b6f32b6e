//go:build unix

package wal

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f: two processes appending to one log
// would interleave records. The kernel drops it when the process dies.
func lockFile(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("%w: %w", ErrLocked, err)
	}
	return nil
}
