package cdc

// WindowWaiters is the number of reads of s's current run waiting for an
// in-flight window slot.
func WindowWaiters(s *Source) int {
	if r := s.current(); r != nil {
		return int(r.window.waiters.Load())
	}
	return 0
}
