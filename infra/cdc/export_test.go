package cdc

// WindowWaiters is the number of reads of s's current run waiting for an
// in-flight window slot.
func WindowWaiters(s *Source) int {
	if r := s.current(); r != nil {
		return r.window.Waiters()
	}
	return 0
}
