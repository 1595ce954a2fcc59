package bench

import (
	"flag"
	"strconv"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/sim/workload/loadgen"
)

var (
	l4Rounds    = flag.Int("l4.rounds", 5, "BenchmarkAmbientL4VsRaw: interleaved rounds (perf-method.md §7 asks for ≥ 5)")
	l4Warmup    = flag.Int("l4.warmup", 1000, "BenchmarkAmbientL4VsRaw: rtt iterations discarded per measurement")
	l4N         = flag.Int("l4.n", 20000, "BenchmarkAmbientL4VsRaw: rtt iterations measured per measurement")
	l4BulkBytes = flag.Int64("l4.bulk-bytes", 1<<30, "BenchmarkAmbientL4VsRaw: bytes per bulk measurement (after 16 MiB of warm-up)")
)

// Per-measurement bounds: generous against the slowest expected path
// (≈ 0.5 ms per rtt, ≈ 100 MB/s) so that only a hang trips them.
const (
	rttTimeout  = 2 * time.Minute
	bulkTimeout = 3 * time.Minute
)

// BenchmarkAmbientL4VsRaw is issue #3: ambient L4 (client → ztunnel →
// HBONE mTLS → ztunnel → server, across nodes) against a raw pod-to-pod
// round trip over the same nodes, through the real simulator. Each round
// measures, on fresh connections and alternating which path goes first:
// 1 KiB rtt, 64 B rtt and single-stream bulk, raw and ambient. Ratios are
// taken within a round; the reported figure is the median over rounds.
//
// Goals (perf-method.md §7): p50-ratio ≤ 4.0 (G1), throughput-ratio ≥ 0.30
// (issue #3; G3 says ≥ 0.25). The run takes about a minute per round;
// b.N is ignored, since one run already holds every round.
func BenchmarkAmbientL4VsRaw(b *testing.B) {
	c := upPairs(b, nsRaw, nsAmbient)
	b.Logf("environment: %s", environment())
	addr := map[string]string{nsRaw: c.echoAddr(b, nsRaw), nsAmbient: c.echoAddr(b, nsAmbient)}
	zt := c.ztunnelPIDs(b)
	// Enrollment and the first HBONE connection are not what is measured.
	c.loadgen(b, nsAmbient, rttTimeout, "--mode", "rtt", "--addr", addr[nsAmbient], "--warmup", "0", "--n", "100")

	var rounds Rounds
	var cpuPerRTT, cpuPerGiB []float64
	rtt := func(ns string, size int) loadgen.Result {
		return c.loadgen(b, ns, rttTimeout, "--mode", "rtt", "--addr", addr[ns], "--size", strconv.Itoa(size),
			"--warmup", strconv.Itoa(*l4Warmup), "--n", strconv.Itoa(*l4N))
	}
	bulk := func(ns string) loadgen.Result {
		return c.loadgen(b, ns, bulkTimeout, "--mode", "bulk", "--addr", addr[ns], "--bytes", strconv.FormatInt(*l4BulkBytes, 10))
	}
	// measure runs f on both paths in the round's order, and the ztunnels'
	// CPU over the ambient one only.
	measure := func(round int, f func(ns string) loadgen.Result) (raw, ambient loadgen.Result, ztunnelCPU time.Duration) {
		order := []string{nsRaw, nsAmbient}
		if round%2 == 1 {
			order = []string{nsAmbient, nsRaw}
		}
		for _, ns := range order {
			if ns == nsRaw {
				raw = f(ns)
				continue
			}
			before := mustCPU(b, zt)
			ambient = f(ns)
			ztunnelCPU = mustCPU(b, zt) - before
		}
		return raw, ambient, ztunnelCPU
	}

	b.ResetTimer()
	for r := range *l4Rounds {
		raw, amb, cpu := measure(r, func(ns string) loadgen.Result { return rtt(ns, 1024) })
		if cpu == 0 {
			b.Fatalf("round %d: the ztunnels used no CPU during the ambient run: traffic was not captured", r+1)
		}
		rounds.Add("p50-us", Pair{raw.P50us, amb.P50us})
		rounds.Add("p99-us", Pair{raw.P99us, amb.P99us})
		rounds.Add("p999-us", Pair{raw.P999us, amb.P999us})
		cpuPerRTT = append(cpuPerRTT, float64(cpu.Microseconds())/float64(*l4Warmup+*l4N))

		raw, amb, _ = measure(r, func(ns string) loadgen.Result { return rtt(ns, 64) })
		rounds.Add("p50-us-64B", Pair{raw.P50us, amb.P50us})

		raw, amb, cpu = measure(r, bulk)
		rounds.Add("MBps", Pair{raw.BytesPerSec / 1e6, amb.BytesPerSec / 1e6})
		movedGiB := float64(*l4BulkBytes+loadgen.DefaultConfig().WarmupBytes) / (1 << 30)
		cpuPerGiB = append(cpuPerGiB, cpu.Seconds()/movedGiB)
	}
	b.StopTimer()
	b.Logf("medians over %d rounds (latencies µs, MBps = 10^6 bytes/s each way):\n%s", *l4Rounds, rounds.Table())

	report := func(metric, rawUnit, meshUnit, ratioUnit string) {
		s, ok := rounds.Summarize(metric)
		if !ok {
			return
		}
		if rawUnit != "" {
			b.ReportMetric(s.Raw, rawUnit)
			b.ReportMetric(s.Mesh, meshUnit)
		}
		b.ReportMetric(s.Ratio, ratioUnit)
	}
	report("p50-us", "raw-p50-us", "ambient-p50-us", "p50-ratio")
	report("p99-us", "raw-p99-us", "ambient-p99-us", "p99-ratio")
	report("p999-us", "", "", "p999-ratio")
	report("p50-us-64B", "raw-p50-64B-us", "ambient-p50-64B-us", "p50-64B-ratio")
	report("MBps", "raw-MBps", "ambient-MBps", "throughput-ratio")
	b.ReportMetric(Median(cpuPerRTT), "ztunnel-cpu-us/rtt")
	b.ReportMetric(Median(cpuPerGiB), "ztunnel-cpu-s/GiB")
}

func mustCPU(b *testing.B, pids []int) time.Duration {
	b.Helper()
	d, err := TotalCPU(pids)
	if err != nil {
		b.Fatal(err)
	}
	return d
}
