package lifecycle

import (
	"os"
	"runtime"
)

// ApplyMaxProcs caps the Go scheduler's Ps (runtime.GOMAXPROCS) at n for a
// proxy's lifetime, the way Envoy's --concurrency and ztunnel's
// ZTUNNEL_WORKER_THREADS bound their worker threads. n ≤ 0, or a
// GOMAXPROCS environment variable set by the operator, leaves the runtime's
// value. The returned func restores the previous value.
func ApplyMaxProcs(n int) (restore func()) {
	if n <= 0 || os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	old := runtime.GOMAXPROCS(n)
	return func() { runtime.GOMAXPROCS(old) }
}
