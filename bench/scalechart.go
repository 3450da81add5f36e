package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/troupe-go/troupe/bench/internal/workload"
)

// The scale chart is SVG written by hand: three panels (records/s, CPU-seconds per 1M
// records, peak RSS), each with the partition counts along the x axis (evenly spaced,
// not to scale) and one line per client and scenario: solid for BlackholeProduce and
// for consumers, dashed for stored. Producers and consumers get a chart each.

const (
	scaleChartWidth  = 1120
	scaleChartHeight = 440
	scalePanelWidth  = 300
	scalePanelGap    = 75
	scalePanelLeft   = 60
)

// scaleSeries is one line of a panel: a client in a scenario, a value per partition
// count (NaN where it did not run or failed).
type scaleSeries struct {
	client string
	sc     scenario
	values []float64
}

// scaleChart is one SVG file of the scale report.
type scaleChart struct {
	file, what, svg string
}

// charts are the scale report's charts: one of the producers, one of the consumers, each
// when its scenarios ran.
func (r *scaleReport) charts() []scaleChart {
	var out []scaleChart
	if len(r.chartScenarios(false)) > 0 {
		out = append(out, scaleChart{scaleChartFile, "producers", r.chart(false)})
	}
	if len(r.chartScenarios(true)) > 0 {
		out = append(out, scaleChart{consumeChartFile, "consumers", r.chart(true)})
	}
	return out
}

// chartScenarios are the scenarios drawn in the consumers' chart or the producers'.
func (r *scaleReport) chartScenarios(consume bool) []scenario {
	var out []scenario
	for _, sc := range r.opts.scale.scenarios {
		if !idles(sc) && consumes(sc) == consume {
			out = append(out, sc)
		}
	}
	return out
}

// chart renders the producers' or the consumers' points as an SVG document.
func (r *scaleReport) chart(consume bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		scaleChartWidth, scaleChartHeight, scaleChartWidth, scaleChartHeight)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", scaleChartWidth, scaleChartHeight)
	title := "Producers against kfake by partition count: keyed 100-byte records, murmur2, acks=all"
	if consume {
		title = "Consumers against kfake by partition count: 100-byte records, every partition from offset 0"
	}
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold" text-anchor="middle">%s, %s</text>`+"\n",
		scaleChartWidth/2, title, medianOf(r.opts.runs))
	records := fmt.Sprintf("%s records per partition", count(r.opts.scale.perPartition))
	if r.opts.scale.minRecords > 0 {
		records += fmt.Sprintf(", at least %s per run", count(r.opts.scale.minRecords))
	}
	fmt.Fprintf(&b, `<text x="%d" y="40" fill="#555" text-anchor="middle">%s, %d cores, %s, %s; %s</text>`+"\n",
		scaleChartWidth/2, xmlEscape(r.env.cpu), r.env.cores, r.env.goVersion, r.started.UTC().Format("2006-01-02"), records)

	counts := r.opts.scale.partitions
	panels := []struct {
		title  string
		format string
		value  func(summary) float64
	}{
		{"records/s (millions), higher is better", "%.2f", func(s summary) float64 { return s.recordsPerSecond / 1e6 }},
		{"client CPU-s per 1M records (timed phase), lower is better", "%.2f", func(s summary) float64 { return s.phaseCPU }},
		{"peak RSS (MiB), lower is better", "%.0f", func(s summary) float64 { return mib(int64(s.maxRSS)) }},
	}
	for i, p := range panels {
		x0 := scalePanelLeft + i*(scalePanelWidth+scalePanelGap)
		r.scalePanel(&b, x0, p.title, p.format, counts, r.series(r.chartScenarios(consume), counts, p.value))
	}
	r.scaleLegend(&b, r.chartScenarios(consume))
	b.WriteString("</svg>\n")
	return b.String()
}

// series collects value of every client in every scenario of scs, by partition count.
func (r *scaleReport) series(scs []scenario, counts []int, value func(summary) float64) []scaleSeries {
	var out []scaleSeries
	for _, sc := range scs {
		for _, c := range r.opts.clients {
			s := scaleSeries{client: c, sc: sc}
			for _, n := range counts {
				v := math.NaN()
				for _, p := range r.produce(sc.key) {
					if p.partitions == n {
						if sum := p.summarize(c); sum.ok > 0 {
							v = value(sum)
						}
					}
				}
				s.values = append(s.values, v)
			}
			out = append(out, s)
		}
	}
	return out
}

// scalePanel draws one panel at x0: axes, gridlines, the partition counts, a line with
// labelled points per series.
func (r *scaleReport) scalePanel(b *strings.Builder, x0 int, title, format string, counts []int, series []scaleSeries) {
	top, bottom := panelTop, panelTop+panelHeight
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold" text-anchor="middle">%s</text>`+"\n", x0+scalePanelWidth/2, top-12, xmlEscape(title))
	max := 0.0
	for _, s := range series {
		for _, v := range s.values {
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
			x0, x0+scalePanelWidth, y(t), y(t), x0-4, y(t)+4, trimFloat(t))
	}
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>`+"\n", x0, x0+scalePanelWidth, bottom, bottom)
	if len(counts) == 0 {
		return
	}
	x := func(i int) float64 {
		return float64(x0) + (float64(i)+0.5)*float64(scalePanelWidth)/float64(len(counts))
	}
	for i, n := range counts {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x(i), bottom+16, n)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="#555" text-anchor="middle">partitions</text>`+"\n", x0+scalePanelWidth/2, bottom+32)
	for k, s := range series {
		dash := ""
		if !s.sc.blackhole && s.sc.mode != workload.Consume {
			dash = ` stroke-dasharray="6 4"`
		}
		color := clientColor(s.client)
		for i := 1; i < len(s.values); i++ {
			if math.IsNaN(s.values[i-1]) || math.IsNaN(s.values[i]) {
				continue
			}
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n",
				x(i-1), y(s.values[i-1]), x(i), y(s.values[i]), color, dash)
		}
		for i, v := range s.values {
			if math.IsNaN(v) {
				continue
			}
			label := fmt.Sprintf(format, v)
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s, %s, %d partitions: %s</title></circle>`+"\n",
				x(i), y(v), color, s.client, s.sc.title, counts[i], label)
			// Every other series labels its points on the left, so that close points'
			// labels overlap less.
			lx, anchor := x(i)+4, "start"
			if k%2 == 1 {
				lx, anchor = x(i)-4, "end"
			}
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="9" fill="%s" text-anchor="%s">%s</text>`+"\n", lx, y(v)-4, color, anchor, label)
		}
	}
}

// scaleLegend names the clients' colors and the scenarios' strokes.
func (r *scaleReport) scaleLegend(b *strings.Builder, scs []scenario) {
	x := scaleChartWidth/2 - 90*(len(r.opts.clients)+2)/2
	yl := scaleChartHeight - 20
	for _, c := range r.opts.clients {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="3"/><text x="%d" y="%d">%s</text>`+"\n",
			x, x+20, yl-4, yl-4, clientColor(c), x+24, yl, c)
		x += 90
	}
	for _, sc := range scs {
		dash, name := "", "BlackholeProduce"
		switch {
		case sc.mode == workload.Consume:
			name = "consume"
		case !sc.blackhole:
			dash, name = ` stroke-dasharray="6 4"`, "stored"
		}
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333" stroke-width="2"%s/><text x="%d" y="%d">%s</text>`+"\n",
			x, x+20, yl-4, yl-4, dash, x+24, yl, name)
		x += 140
	}
}

// clientColor is the client's color, grey for one without.
func clientColor(c string) string {
	if col, ok := colors[c]; ok {
		return col
	}
	return "#868e96"
}
