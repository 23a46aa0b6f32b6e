// Package memtest measures the process's resident memory for the flood
// tests of the embedded servers (miniscylla, minikafka), which prove that
// hostile connections cannot make the substrate under the data path grow
// without bound.
package memtest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// RSS returns the process's resident set size in bytes (VmRSS of
// /proc/self/status).
func RSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read resident memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read resident memory: %w", err)
	}
	return 0, errors.New("no VmRSS in /proc/self/status")
}

// Peak samples RSS in the background from the moment it starts.
type Peak struct {
	base, peak atomic.Int64
	stop, done chan struct{}
	once       sync.Once
	err        atomic.Pointer[error]
}

// SamplePeak reads the baseline now and then samples every interval until
// Stop (or the end of the test).
func SamplePeak(tb testing.TB, interval time.Duration) *Peak {
	tb.Helper()
	base, err := RSS()
	if err != nil {
		tb.Fatal(err)
	}
	p := &Peak{stop: make(chan struct{}), done: make(chan struct{})}
	p.base.Store(base)
	p.peak.Store(base)
	go p.run(interval)
	tb.Cleanup(p.halt)
	return p
}

func (p *Peak) run(interval time.Duration) {
	defer close(p.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		rss, err := RSS()
		if err != nil {
			p.err.Store(&err)
			return
		}
		p.peak.Store(max(p.peak.Load(), rss))
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
	}
}

func (p *Peak) halt() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

// Stop ends the sampling and returns the baseline and the highest RSS
// seen; it fails tb if a sample could not be read.
func (p *Peak) Stop(tb testing.TB) (base, peak int64) {
	tb.Helper()
	p.halt()
	if err := p.err.Load(); err != nil {
		tb.Fatal(*err)
	}
	return p.base.Load(), p.peak.Load()
}
