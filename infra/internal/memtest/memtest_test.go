package memtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/outboxnode/outbox/internal/poll"
)

// TestPeakSeesGrowth: touching 64 MiB while sampling raises the peak by
// about that much over the baseline, and RSS reads a plausible size.
func TestPeakSeesGrowth(t *testing.T) {
	rss, err := RSS()
	if err != nil || rss < 1<<20 {
		t.Fatalf("RSS = %d, %v; want at least 1 MiB", rss, err)
	}
	p := SamplePeak(t, 5*time.Millisecond)
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	poll.Eventually(t, time.Minute, func() error {
		if p.peak.Load()-p.base.Load() < 48<<20 {
			return fmt.Errorf("peak %d MiB over a baseline of %d MiB after touching 64 MiB", p.peak.Load()>>20, p.base.Load()>>20)
		}
		return nil
	})
	base, peak := p.Stop(t)
	if peak-base < 48<<20 || buf[len(buf)-1] != byte(len(buf)-1) {
		t.Fatalf("growth %d MiB, want about 64", (peak-base)>>20)
	}
}
