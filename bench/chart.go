package main

import (
	"fmt"
	"math"
	"strings"
)

// The chart is SVG written by hand: two panels (records/s, and client CPU-seconds per 1M
// records), each with one group of bars per scenario and one bar per client.

// colors of the clients' bars, in the order of clients.
var colors = map[string]string{
	"troupe":   "#e8590c",
	"kgo":      "#1c7ed6",
	"sarama":   "#5c940d",
	"kafka-go": "#862e9c",
}

const (
	chartWidth  = 980
	chartHeight = 400
	panelWidth  = 420
	panelHeight = 270
	panelTop    = 70
)

// chart renders the report's medians as an SVG document.
func (r *report) chart() string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, chartHeight, chartWidth, chartHeight)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartWidth, chartHeight)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold" text-anchor="middle">Kafka clients against kfake, %s records of 100 bytes, 6 partitions, acks=all: %s</text>`+"\n",
		chartWidth/2, count(r.opts.records), medianOf(r.opts.runs))
	fmt.Fprintf(&b, `<text x="%d" y="40" fill="#555" text-anchor="middle">%s, %d cores, %s, %s</text>`+"\n",
		chartWidth/2, xmlEscape(r.env.cpu), r.env.cores, r.env.goVersion, r.started.UTC().Format("2006-01-02"))

	rps := r.values(func(s summary) float64 { return s.recordsPerSecond / 1e6 })
	cpu := r.values(func(s summary) float64 { return s.cpuPerMillion })
	r.panel(&b, 50, "records/s (millions), higher is better", rps, "%.2f")
	r.panel(&b, 50+panelWidth+60, "client CPU-seconds per 1M records, lower is better", cpu, "%.2f")

	// Legend.
	x := chartWidth/2 - 60*len(r.opts.clients)
	for _, c := range r.opts.clients {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			x, chartHeight-22, colors[c], x+16, chartHeight-12, c)
		x += 120
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// values is f of every client's summary, by scenario then client; NaN for a client
// without a successful run.
func (r *report) values(f func(summary) float64) [][]float64 {
	out := make([][]float64, len(r.results))
	for i, sr := range r.results {
		for _, c := range sr.clients {
			s := sr.summarize(c)
			v := math.NaN()
			if s.ok > 0 {
				v = f(s)
			}
			out[i] = append(out[i], v)
		}
	}
	return out
}

// panel draws one bar chart at x0: axes, gridlines, a group per scenario, a labelled bar
// per client.
func (r *report) panel(b *strings.Builder, x0 int, title string, vals [][]float64, format string) {
	top, bottom := panelTop, panelTop+panelHeight
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold" text-anchor="middle">%s</text>`+"\n", x0+panelWidth/2, top-12, title)
	max := 0.0
	for _, g := range vals {
		for _, v := range g {
			if !math.IsNaN(v) && v > max {
				max = v
			}
		}
	}
	step := niceStep(max / 4)
	axisMax := step * math.Ceil(max/step)
	if axisMax == 0 {
		axisMax = 1
	}
	y := func(v float64) float64 { return float64(bottom) - v/axisMax*float64(panelHeight-20) }
	for t := 0.0; t <= axisMax+step/2; t += step {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e0e0e0"/><text x="%d" y="%.1f" fill="#555" text-anchor="end">%s</text>`+"\n",
			x0, x0+panelWidth, y(t), y(t), x0-4, y(t)+4, trimFloat(t))
	}
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>`+"\n", x0, x0+panelWidth, bottom, bottom)
	if len(vals) == 0 {
		return
	}
	groupWidth := float64(panelWidth) / float64(len(vals))
	for i, g := range vals {
		gx := float64(x0) + groupWidth*float64(i)
		barWidth := (groupWidth - 20) / float64(max1(len(g)))
		for j, v := range g {
			bx := gx + 10 + barWidth*float64(j)
			c := r.results[i].clients[j]
			if math.IsNaN(v) {
				fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#c00" text-anchor="middle" font-size="10">failed</text>`+"\n", bx+barWidth/2, bottom-4)
				continue
			}
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s: %s</title></rect>`+"\n",
				bx+1, y(v), barWidth-2, float64(bottom)-y(v), colors[c], c, r.results[i].title, fmt.Sprintf(format, v))
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>`+"\n", bx+barWidth/2, y(v)-3, fmt.Sprintf(format, v))
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", gx+groupWidth/2, bottom+16, xmlEscape(shortTitle(r.results[i])))
	}
}

// medianOf says what the figures are.
func medianOf(runs int) string {
	if runs == 1 {
		return "a single run"
	}
	return fmt.Sprintf("medians of %d runs", runs)
}

// shortTitle names a scenario under its bar group.
func shortTitle(sr scenarioResult) string {
	switch {
	case sr.mode == "consume":
		return "consume"
	case sr.blackhole:
		return "produce, blackhole"
	default:
		return "produce, stored"
	}
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
