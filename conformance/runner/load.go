package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/scenarios"
)

// loadResult is the JSON `ambientlab-workload load` prints
// (sim/workload/httpload.Result); the runner only reads it.
type loadResult struct {
	Count        int            `json:"count"`
	Responses    int            `json:"responses"`
	Errors       map[string]int `json:"errors"`
	Statuses     map[string]int `json:"statuses"`
	Values       map[string]int `json:"values"`
	MinLatencyMS float64        `json:"minLatencyMs"`
	P50LatencyMS float64        `json:"p50LatencyMs"`
	MaxLatencyMS float64        `json:"maxLatencyMs"`
}

// loadStep runs the load client once in the source pod and compares the
// distribution of the responses with the expectation. The step's output is
// the client's JSON, kept as evidence.
func (e *env) loadStep(ctx context.Context, a *scenarios.LoadAction, sr *StepResult) bool {
	req, err := e.expandRequest(a.Request)
	if err != nil {
		sr.Message = err.Error()
		return false
	}
	argv := loadArgv(e.opts.WorkloadBinary, a, req)
	// Bound the whole run: every request may take its full timeout, one
	// worker at a time, plus exec setup.
	bound := time.Duration(a.Count/a.Concurrency+1)*req.Timeout + 30*time.Second
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	res, err := e.exec(ctx, a.From, argv)
	if err != nil {
		sr.Message = err.Error()
		return false
	}
	sr.Output = truncate(res.Stdout, 4096)
	if res.Code != 0 {
		sr.Message = fmt.Sprintf("load client exited %d: %s", res.Code, strings.TrimSpace(res.Stderr))
		return false
	}
	var got loadResult
	if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil {
		sr.Message = fmt.Sprintf("load client output is not a result: %v", err)
		return false
	}
	ok, why := checkLoad(a, got)
	sr.Attempts = 1
	if !ok {
		sr.Message = why
	}
	return ok
}

func loadArgv(bin string, a *scenarios.LoadAction, req scenarios.ProbeRequest) []string {
	argv := []string{bin, "load", "--url", req.URL, "--count", strconv.Itoa(a.Count),
		"--concurrency", strconv.Itoa(a.Concurrency), "--timeout", req.Timeout.String(), "--by", a.By}
	if req.Method != "" {
		argv = append(argv, "--method", req.Method)
	}
	keys := make([]string, 0, len(req.Headers))
	for k := range req.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		argv = append(argv, "-H", k+": "+req.Headers[k])
	}
	if req.Body != "" {
		argv = append(argv, "--data", req.Body)
	}
	if req.HTTP2 {
		argv = append(argv, "--http2")
	}
	return argv
}

// checkLoad judges one load result: the distribution (transport errors
// counted as "error") and the latency floor.
func checkLoad(a *scenarios.LoadAction, got loadResult) (bool, string) {
	counts := map[string]int{}
	for v, n := range got.Values {
		counts[v] += n
	}
	for _, n := range got.Errors {
		counts[scenarios.LoadErrorValue] += n
	}
	problems := scenarios.LoadCheck(a.Distribution, a.Tolerance, counts, a.Count)
	if a.MinLatency > 0 && got.Responses > 0 && got.MinLatencyMS < float64(a.MinLatency.Microseconds())/1000 {
		problems = append(problems, fmt.Sprintf("fastest response took %.1fms, want at least %v", got.MinLatencyMS, a.MinLatency))
	}
	if len(problems) == 0 {
		return true, ""
	}
	var errs []string
	for msg, n := range got.Errors {
		errs = append(errs, fmt.Sprintf("%d× %s", n, msg))
	}
	sort.Strings(errs)
	why := fmt.Sprintf("by %s: %s", a.By, strings.Join(problems, "; "))
	if len(errs) > 0 {
		why += "\ntransport errors: " + strings.Join(errs, "; ")
	}
	return false, why
}
