package loadgen

import (
	"math"
	"slices"
	"time"
)

// Latency summarises one run's samples.
type Latency struct {
	N                        int
	P50, P90, P99, P999, Max time.Duration
	Mean                     time.Duration
}

// Summarize sorts samples in place and returns their percentiles by the
// nearest-rank method: the p-quantile is the smallest sample with at least
// p·n samples at or below it. Nearest rank never interpolates, so every
// reported figure is a latency that was actually observed. Zero for none.
func Summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return Latency{
		N:    len(samples),
		P50:  NearestRank(samples, 0.50),
		P90:  NearestRank(samples, 0.90),
		P99:  NearestRank(samples, 0.99),
		P999: NearestRank(samples, 0.999),
		Max:  samples[len(samples)-1],
		Mean: sum / time.Duration(len(samples)),
	}
}

// NearestRank returns the p-quantile (0 < p ≤ 1) of sorted, a non-empty
// ascending slice: sorted[⌈p·n⌉-1].
func NearestRank(sorted []time.Duration, p float64) time.Duration {
	// The epsilon keeps p·n that is an integer in exact arithmetic (0.9·10)
	// from rounding up through floating-point error (9.000000000000002).
	rank := int(math.Ceil(p*float64(len(sorted)) - 1e-9))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
