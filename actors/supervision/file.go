package supervision

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/messages"
)

// line is the JSON form of one event in the log file.
type line struct {
	Time      time.Time `json:"time"`
	Seq       uint64    `json:"seq"`
	Actor     string    `json:"actor"`
	Event     string    `json:"event"`
	Reason    string    `json:"reason,omitempty"`
	Directive string    `json:"directive,omitempty"`
}

// file appends one JSON object per line; each line is one write(2), so it reaches the
// OS at once (no fsync: the log is for operators, not for recovery).
type file struct {
	f       *os.File
	skipped int // malformed lines found when reading the existing file
}

// openFile reads the last retain events of an existing log and opens it for appending.
func openFile(path string, retain int) (*file, []*messages.SupervisionEvent, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, fmt.Errorf("create directory of %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	out := &file{f: f}
	var past []*messages.SupervisionEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Seq == 0 {
			out.skipped++
			continue
		}
		past = append(past, &messages.SupervisionEvent{
			Seq: l.Seq, Time: timestamppb.New(l.Time), Actor: l.Actor, Event: l.Event, Reason: l.Reason, Directive: l.Directive,
		})
		if len(past) > 2*retain {
			past = append(past[:0:0], past[len(past)-retain:]...)
		}
	}
	if err := sc.Err(); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(past) > retain {
		past = past[len(past)-retain:]
	}
	if err := out.terminateLastLine(); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("repair %s: %w", path, err)
	}
	return out, past, nil
}

// terminateLastLine ends a line cut short by a crash, so the next event starts a line.
func (f *file) terminateLastLine() error {
	st, err := f.f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	last := make([]byte, 1)
	if _, err := f.f.ReadAt(last, st.Size()-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	_, err = f.f.Write([]byte{'\n'})
	return err
}

func (f *file) write(ev *messages.SupervisionEvent) error {
	if f == nil {
		return fmt.Errorf("log file not open")
	}
	b, err := json.Marshal(line{
		Time: ev.GetTime().AsTime(), Seq: ev.GetSeq(), Actor: ev.GetActor(), Event: ev.GetEvent(),
		Reason: ev.GetReason(), Directive: ev.GetDirective(),
	})
	if err != nil {
		return fmt.Errorf("encode event %d: %w", ev.GetSeq(), err)
	}
	if _, err := f.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("append event %d: %w", ev.GetSeq(), err)
	}
	return nil
}

func (f *file) close() error {
	return f.f.Close()
}
