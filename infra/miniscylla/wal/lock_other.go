//go:build !unix

package wal

import "os"

// lockFile does nothing where flock(2) does not exist: one server per data
// directory is then the operator's responsibility.
func lockFile(*os.File) error { return nil }
