package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// clearHome moves the cursor home and clears the terminal, so each
// refresh redraws the screen in place.
const clearHome = "\x1b[H\x1b[2J"

// screen prints refreshes: one JSON object per line with -o json, a
// redrawn block on a terminal, else one text line per refresh (no escape
// codes, for pipes, logs and tests).
type screen struct {
	w        io.Writer
	json     bool
	terminal bool
	title    string
}

// show prints one refresh.
func (s *screen) show(v topView) error {
	var out string
	switch {
	case s.json:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode refresh: %w", err)
		}
		out = string(b) + "\n"
	case s.terminal:
		out = clearHome + s.title + "\n\n" + topBlock(v) + "\n"
	default:
		out = topLine(v) + "\n"
	}
	_, err := io.WriteString(s.w, out)
	return err
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// topLine renders a refresh as one line of key=value pairs.
func topLine(v topView) string {
	t := v.Time.Format(time.TimeOnly)
	if v.Error != "" {
		return t + " error=" + strconv.Quote(v.Error)
	}
	return fmt.Sprintf("%s published=%s/s events=%s/s commands=%s/s rejected=%s/s lag=%s breaker=%s dlq_waiting=%s dlq_entered_total=%s",
		t, num(v.PublishedPerSec), num(v.EventsPerSec), num(v.CommandsPerSec), num(v.RejectedPerSec),
		seconds(v.LagSeconds), v.Breaker, count(v.DLQWaiting), total(v.DLQEnteredTotal))
}

// topBlock renders a refresh as the lines of the terminal screen.
func topBlock(v topView) string {
	t := v.Time.Format(time.TimeOnly)
	if v.Error != "" {
		return t + "  " + v.Error
	}
	rows := [][2]string{
		{"time", t},
		{"published to kafka", num(v.PublishedPerSec) + "/s"},
		{"events relayed", num(v.EventsPerSec) + "/s (published, dead-lettered or parked)"},
		{"commands", num(v.CommandsPerSec) + "/s (rejected " + num(v.RejectedPerSec) + "/s)"},
		{"cdc lag", seconds(v.LagSeconds)},
		{"circuit breaker", v.Breaker},
		{"dlq waiting", count(v.DLQWaiting) + " dead or parked (entered since node start: " + total(v.DLQEnteredTotal) + ")"},
	}
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%-20s %s", r[0], r[1])
	}
	return b.String()
}

func num(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 1, 64)
}

// total renders a counter's value, a whole number.
func total(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', -1, 64)
}

func seconds(p *float64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatFloat(*p, 'f', 3, 64) + "s"
}

func count(p *int) string {
	if p == nil {
		return "-"
	}
	return strconv.Itoa(*p)
}
