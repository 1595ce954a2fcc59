package echo

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// failFirstParam makes the echo fail the first N tries of a request, so a
// proxy's retries can be observed: `?fail-first=N` answers the first N
// requests carrying the same x-request-id (a proxy keeps the id across
// retries) with `fail-code` (default 503), then serves normally. Requests
// without x-request-id share one counter: the first N of them fail.
const (
	failFirstParam = "fail-first"
	failCodeParam  = "fail-code"
	// maxFailKeys bounds the counters; past it they start over, so a long
	// run cannot grow the workload's memory.
	maxFailKeys = 10000
	maxFailures = 100
)

type failCounter struct {
	mu    sync.Mutex
	count map[string]int
}

// fail decides whether to fail r; it writes the failure and returns true.
func (f *failCounter) fail(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	spec := q.Get(failFirstParam)
	if spec == "" {
		return false
	}
	n, err := strconv.Atoi(spec)
	if err != nil || n < 0 || n > maxFailures {
		http.Error(w, fmt.Sprintf("%s: want 0-%d, got %q", failFirstParam, maxFailures, spec), http.StatusBadRequest)
		return true
	}
	code := http.StatusServiceUnavailable
	if s := q.Get(failCodeParam); s != "" {
		if code, err = strconv.Atoi(s); err != nil || code < 200 || code > 599 {
			http.Error(w, fmt.Sprintf("%s: want 200-599, got %q", failCodeParam, s), http.StatusBadRequest)
			return true
		}
	}
	key := r.Header.Get("X-Request-Id")
	f.mu.Lock()
	if f.count == nil || len(f.count) >= maxFailKeys {
		f.count = map[string]int{}
	}
	f.count[key]++
	k := f.count[key]
	f.mu.Unlock()
	if k > n {
		return false
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, "fail-first: try %d of %d failed on purpose\n", k, n)
	return true
}
