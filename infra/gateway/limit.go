package gateway

import (
	"sync"
	"time"
)

// limiter bounds the refusal log lines: a burst of n, then one line per
// n-th of interval, so a peer flooding the port cannot flood the log. The
// lines it suppresses are counted and reported on the next allowed one.
type limiter struct {
	mu         sync.Mutex
	n          float64
	per        time.Duration // interval in which n tokens refill
	tokens     float64
	last       time.Time
	suppressed int
}

func newLimiter(n int, per time.Duration) *limiter {
	return &limiter{n: float64(n), per: per, tokens: float64(n)}
}

// allow takes a token at now; it returns false when none is left, else
// true and how many calls were refused since the last allowed one.
func (l *limiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens = min(l.n, l.tokens+l.n*float64(now.Sub(l.last))/float64(l.per))
	}
	l.last = now
	if l.tokens < 1 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	s := l.suppressed
	l.suppressed = 0
	return true, s
}
