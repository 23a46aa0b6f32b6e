package cdc

import (
	"log/slog"
	"time"

	"github.com/gocql/gocql"
)

// groupedFormat is scylla-cdc-go's (v1.2.1) line at the start of each
// generation, which gives the number of streams whose progress it loads.
const groupedFormat = "grouped %d streams into %d batches"

// streamCount returns the stream count of the library's grouped line.
func streamCount(format string, v []any) (int, bool) {
	if format != groupedFormat || len(v) == 0 {
		return 0, false
	}
	n, ok := v[0].(int)
	return n, ok
}

// resumeLog logs, once the reader has loaded the saved progress of every
// stream of a generation, where it resumes: how many streams had a saved
// position in the progress table and the oldest of them, which is where
// re-reading (and re-publishing, at-least-once) starts. The run's mu
// guards it.
type resumeLog struct {
	log   *slog.Logger
	table string

	streams int // of the generation, 0 until the library said
	seen    int
	saved   int
	oldest  time.Time
}

// expect starts a generation of n streams: the library groups them, then
// loads their progress.
func (l *resumeLog) expect(n int) {
	l.streams, l.seen, l.saved, l.oldest = n, 0, 0, time.Time{}
}

// loaded counts one stream's loaded progress (zero when none was saved).
func (l *resumeLog) loaded(pos gocql.UUID) {
	l.seen++
	if pos != (gocql.UUID{}) {
		l.saved++
		if t := pos.Time(); l.oldest.IsZero() || t.Before(l.oldest) {
			l.oldest = t
		}
	}
	l.maybeLog()
}

func (l *resumeLog) maybeLog() {
	if l.streams == 0 || l.seen != l.streams {
		return
	}
	if l.saved == 0 {
		l.log.Info("cdc reader resumed: no saved position, reading from the start of the generation",
			slog.String("table", l.table), slog.Int("streams", l.streams))
		return
	}
	l.log.Info("cdc reader resumed from saved positions", slog.String("table", l.table), slog.Int("streams", l.streams),
		slog.Int("saved", l.saved), slog.Time("oldest", l.oldest))
}
