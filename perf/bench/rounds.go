package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Pair is one figure of the raw path and of the mesh path, measured in the
// same round so that both saw the same machine load.
type Pair struct{ Raw, Mesh float64 }

// Ratio is mesh over raw: > 1 means the mesh is slower for latencies and
// faster for throughputs. NaN when raw is not positive.
func (p Pair) Ratio() float64 {
	if p.Raw <= 0 {
		return math.NaN()
	}
	return p.Mesh / p.Raw
}

// Median is the middle value (the mean of the two middle ones for an even
// count), NaN for none. perf-method.md §4: never average percentiles
// across rounds; take the median of the per-round values.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// Rounds collects per-round pairs by metric name, in round order.
type Rounds struct {
	byMetric map[string][]Pair
	order    []string // metrics in first-seen order, for stable logs
}

// Add records metric's pair for the next round of that metric.
func (r *Rounds) Add(metric string, p Pair) {
	if r.byMetric == nil {
		r.byMetric = map[string][]Pair{}
	}
	if _, ok := r.byMetric[metric]; !ok {
		r.order = append(r.order, metric)
	}
	r.byMetric[metric] = append(r.byMetric[metric], p)
}

// Summary is one metric over all rounds.
type Summary struct {
	Rounds     int
	Raw, Mesh  float64 // medians of the per-round values
	Ratio      float64 // median of the per-round ratios, not a ratio of medians
	RatioRange [2]float64
}

// Summarize returns metric's summary; ok is false when it has no rounds.
func (r *Rounds) Summarize(metric string) (s Summary, ok bool) {
	pairs := r.byMetric[metric]
	if len(pairs) == 0 {
		return Summary{}, false
	}
	raw, mesh, ratio := make([]float64, len(pairs)), make([]float64, len(pairs)), make([]float64, len(pairs))
	for i, p := range pairs {
		raw[i], mesh[i], ratio[i] = p.Raw, p.Mesh, p.Ratio()
	}
	return Summary{
		Rounds:     len(pairs),
		Raw:        Median(raw),
		Mesh:       Median(mesh),
		Ratio:      Median(ratio),
		RatioRange: [2]float64{slices.Min(ratio), slices.Max(ratio)},
	}, true
}

// Table renders one line per metric: the medians, then the per-round
// ratios, so a reader of the benchmark log sees the spread behind each
// median. One line each keeps it under the 10 lines `go test` shows of a
// benchmark's log without -v.
func (r *Rounds) Table() string {
	var b strings.Builder
	for _, m := range r.order {
		s, _ := r.Summarize(m)
		fmt.Fprintf(&b, "%-13s raw %8.1f  mesh %8.1f  ratio %5.2f  per round:", m, s.Raw, s.Mesh, s.Ratio)
		for _, p := range r.byMetric[m] {
			fmt.Fprintf(&b, " %.2f", p.Ratio())
		}
		b.WriteByte('\n')
	}
	return b.String()
}
