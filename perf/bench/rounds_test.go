package bench

import (
	"math"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"odd count", []float64{3, 1, 2}, 2},
		{"even count averages the middle two", []float64{4, 1, 3, 2}, 2.5},
		{"one", []float64{7}, 7},
		{"an outlier does not move it", []float64{10, 11, 12, 13, 1000}, 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.xs...)
			if got := Median(tc.xs); got != tc.want {
				t.Errorf("Median(%v) = %v, want %v", tc.xs, got, tc.want)
			}
			for i := range in {
				if in[i] != tc.xs[i] {
					t.Fatalf("Median reordered its input: %v", tc.xs)
				}
			}
		})
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
}

func TestPairRatio(t *testing.T) {
	if got := (Pair{Raw: 40, Mesh: 120}).Ratio(); got != 3 {
		t.Errorf("ratio = %v, want 3", got)
	}
	if got := (Pair{Raw: 0, Mesh: 1}).Ratio(); !math.IsNaN(got) {
		t.Errorf("ratio over a zero raw = %v, want NaN", got)
	}
}

// TestSummarizeTakesTheMedianOfRatios: the per-round ratio cancels a slow
// round that slowed both paths, which a ratio of medians would not.
func TestSummarizeTakesTheMedianOfRatios(t *testing.T) {
	var r Rounds
	r.Add("p50-us", Pair{Raw: 30, Mesh: 90})  // 3.0
	r.Add("p50-us", Pair{Raw: 60, Mesh: 150}) // 2.5 (a loaded round)
	r.Add("p50-us", Pair{Raw: 32, Mesh: 112}) // 3.5
	r.Add("MBps", Pair{Raw: 2000, Mesh: 600}) // another metric does not mix in
	s, ok := r.Summarize("p50-us")
	if !ok {
		t.Fatal("no summary")
	}
	want := Summary{Rounds: 3, Raw: 32, Mesh: 112, Ratio: 3, RatioRange: [2]float64{2.5, 3.5}}
	if s != want {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
	if _, ok := r.Summarize("p99-us"); ok {
		t.Error("a metric never added has a summary")
	}
	table := r.Table()
	for _, w := range []string{"p50-us        raw     32.0  mesh    112.0  ratio  3.00  per round: 3.00 2.50 3.50\n", "MBps"} {
		if !strings.Contains(table, w) {
			t.Errorf("table lacks %q:\n%s", w, table)
		}
	}
	if strings.Index(table, "p50-us") > strings.Index(table, "MBps") {
		t.Errorf("table not in first-seen metric order:\n%s", table)
	}
}
