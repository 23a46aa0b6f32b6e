//go:build unix

package wal

import (
	"errors"
	"testing"
)

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	_, l := collect(t, dir, nil)
	defer l.Close()
	if _, err := Open(dir, Options{}, func([]byte) error { return nil }); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
}
