package main

import (
	"fmt"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writePlots writes latency.png (p50/p95/p99 against load) and cpu.png
// (CPU per 1,000 events against load) into dir. The x axis is the orders/s
// committed, so that "max" sits where it landed.
func (r *report) writePlots(dir string) error {
	all := append(r.relays[:len(r.relays):len(r.relays)], r.embedded)
	lat := plot.New()
	lat.Title.Text = "commit-to-publish latency"
	lat.X.Label.Text = "orders/s committed"
	lat.Y.Label.Text = "ms (log)"
	lat.Y.Scale = plot.LogScale{}
	lat.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	lat.Legend.Top = true
	lat.Legend.Left = true
	cpu := plot.New()
	cpu.Title.Text = "node CPU per 1,000 events"
	cpu.X.Label.Text = "orders/s committed"
	cpu.Y.Label.Text = "CPU seconds"
	cpu.Legend.Top = true
	for i, rr := range all {
		for j, q := range []struct {
			name string
			get  func(row) float64
		}{
			{"p50", func(x row) float64 { return float64(x.p50.Microseconds()) / 1000 }},
			{"p95", func(x row) float64 { return float64(x.p95.Microseconds()) / 1000 }},
			{"p99", func(x row) float64 { return float64(x.p99.Microseconds()) / 1000 }},
		} {
			l, pts, err := line(rr.rows, q.get, i)
			if err != nil {
				return err
			}
			l.Dashes = plotutil.Dashes(2 - j)
			lat.Add(l, pts)
			lat.Legend.Add(rr.name+" "+q.name, l)
		}
		l, pts, err := line(rr.rows, func(x row) float64 { return x.cpuPer1k }, i)
		if err != nil {
			return err
		}
		cpu.Add(l, pts)
		cpu.Legend.Add(rr.name, l)
	}
	for name, p := range map[string]*plot.Plot{"latency.png": lat, "cpu.png": cpu} {
		if err := p.Save(8*vg.Inch, 5*vg.Inch, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
	}
	return nil
}

// line is y against orders/s committed in the i-th color, one marked
// point per row with a value (the log axis cannot show 0), so that a
// one-row relay shows too.
func line(rows []row, y func(row) float64, i int) (*plotter.Line, *plotter.Scatter, error) {
	var pts plotter.XYs
	for _, x := range rows {
		if v := y(x); v > 0 {
			pts = append(pts, plotter.XY{X: x.orders, Y: v})
		}
	}
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return nil, nil, fmt.Errorf("plot line: %w", err)
	}
	l.Color, s.Color = plotutil.Color(i), plotutil.Color(i)
	s.Shape = plotutil.Shape(i)
	return l, s, nil
}
