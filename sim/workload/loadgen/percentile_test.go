package loadgen

import (
	"testing"
	"time"
)

func durations(us ...int) []time.Duration {
	out := make([]time.Duration, len(us))
	for i, u := range us {
		out[i] = time.Duration(u) * time.Microsecond
	}
	return out
}

func TestNearestRank(t *testing.T) {
	oneToHundred := make([]int, 100)
	for i := range oneToHundred {
		oneToHundred[i] = i + 1
	}
	oneToTen := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name   string
		sorted []int
		p      float64
		want   int
	}{
		{"single sample is every quantile", []int{7}, 0.5, 7},
		{"single sample p99.9", []int{7}, 0.999, 7},
		{"p50 of ten is the fifth", oneToTen, 0.5, 5},
		{"p90 of ten is the ninth, not rounded up by float error", oneToTen, 0.9, 9},
		{"p99 of ten is the max", oneToTen, 0.99, 10},
		{"p1 of ten is the min", oneToTen, 0.01, 1},
		{"p100 is the max", oneToTen, 1, 10},
		{"p99 of a hundred", oneToHundred, 0.99, 99},
		{"p99.9 of a hundred is the max", oneToHundred, 0.999, 100},
		{"even count p50 takes the lower middle", []int{10, 20, 30, 40}, 0.5, 20},
		{"tiny p clamps to the first", oneToHundred, 1e-12, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := NearestRank(durations(tc.sorted...), tc.p)
			if want := time.Duration(tc.want) * time.Microsecond; got != want {
				t.Errorf("NearestRank(p=%v) = %v, want %v", tc.p, got, want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		samples []int
		want    Latency
	}{
		{"empty", nil, Latency{}},
		{"unsorted input", []int{30, 10, 20, 40}, Latency{N: 4, P50: 20 * time.Microsecond, P90: 40 * time.Microsecond,
			P99: 40 * time.Microsecond, P999: 40 * time.Microsecond, Max: 40 * time.Microsecond, Mean: 25 * time.Microsecond}},
		{"one outlier moves only the tail", []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 1000}, Latency{N: 10,
			P50: 10 * time.Microsecond, P90: 10 * time.Microsecond, P99: 1000 * time.Microsecond,
			P999: 1000 * time.Microsecond, Max: 1000 * time.Microsecond, Mean: 109 * time.Microsecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summarize(durations(tc.samples...)); got != tc.want {
				t.Errorf("Summarize = %+v, want %+v", got, tc.want)
			}
		})
	}
}
