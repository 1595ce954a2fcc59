package scenarios

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"time"
)

// LoadStep sends Count HTTP requests from one pod and checks how the
// responses were distributed (a traffic split, a fault percentage) and, for
// injected delays, their latency. It runs once (no convergence): put a
// converging probe before it so the configuration has propagated.
type LoadStep struct {
	StepMeta `json:",inline"`
	// From is the source pod: "ns/pod" or "ns/deploy/name".
	From string `json:"from"`
	// URL is the http:// target.
	URL     string            `json:"url"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	HTTP2   bool              `json:"http2,omitempty"`
	// Count is the number of requests (default 100, at most 100000).
	Count int `json:"count,omitempty"`
	// Concurrency is the number of workers (default 4, at most 256).
	Concurrency int `json:"concurrency,omitempty"`
	// Timeout bounds each request (default: timeouts.probe).
	Timeout string     `json:"timeout,omitempty"`
	Expect  LoadExpect `json:"expect"`
}

// LoadExpect is what the distribution of the responses must be.
type LoadExpect struct {
	// By is what is counted: "status" (default), "field:<Name>" (a line
	// Name=value of the echo report, e.g. field:ServiceVersion) or
	// "header:<Name>".
	By string `json:"by,omitempty"`
	// Distribution maps each value to its expected share of all requests,
	// in percent; the shares add up to 100. A value not listed is expected
	// at 0%. Transport errors count as the value "error".
	Distribution map[string]float64 `json:"distribution"`
	// Tolerance is the allowed difference per value, in percentage points
	// (default 5).
	Tolerance float64 `json:"tolerance,omitempty"`
	// MinLatency: every response took at least this long (an injected delay).
	MinLatency string `json:"minLatency,omitempty"`
}

// LoadShare is one expected value and its share in percent.
type LoadShare struct {
	Value   string
	Percent float64
}

// LoadAction is the resolved load step.
type LoadAction struct {
	StepInfo
	From        string
	Request     ProbeRequest // URL, Method, Headers, Body, HTTP2, Timeout (per request)
	Count       int
	Concurrency int
	By          string
	// Distribution is sorted by value.
	Distribution []LoadShare
	Tolerance    float64
	MinLatency   time.Duration
}

// LoadErrorValue is the value transport errors are counted under.
const LoadErrorValue = "error"

// Load step limits (the workload client enforces the same).
const (
	maxLoadCount       = 100_000
	maxLoadConcurrency = 256
)

var loadByRE = regexp.MustCompile(`^(status|field:[A-Za-z][A-Za-z0-9_-]*|header:[!#$%&'*+.^_` + "`" + `|~0-9A-Za-z-]+)$`)

func (c *compiler) load(path string, info StepInfo, s *LoadStep, t Timeouts) Action {
	srcNS := c.podRef(path+".from", s.From)
	a := &LoadAction{StepInfo: info, From: s.From, Count: s.Count, Concurrency: s.Concurrency, By: s.Expect.By,
		Tolerance: s.Expect.Tolerance,
		Request: ProbeRequest{URL: s.URL, Method: s.Method, Headers: s.Headers, Body: s.Body, HTTP2: s.HTTP2,
			Timeout: c.duration(path+".timeout", s.Timeout, t.Probe)}}
	if s.URL == "" {
		c.errorf(path+".url", "required: the http:// URL to load")
	} else {
		c.httpTarget(path+".url", s.URL, srcNS, true)
	}
	if s.Method != "" && !httpTokenRE.MatchString(s.Method) {
		c.errorf(path+".method", "invalid HTTP method %q", s.Method)
	}
	for k := range s.Headers {
		if !httpTokenRE.MatchString(k) {
			c.errorf(path+".headers", "invalid header name %q", k)
		}
	}
	c.checkPlaceholders(path+".body", s.Body)
	if a.Count == 0 {
		a.Count = 100
	}
	if a.Count < 1 || a.Count > maxLoadCount {
		c.errorf(path+".count", "must be between 1 and %d, got %d", maxLoadCount, s.Count)
	}
	if a.Concurrency == 0 {
		a.Concurrency = 4
	}
	if a.Concurrency < 1 || a.Concurrency > maxLoadConcurrency {
		c.errorf(path+".concurrency", "must be between 1 and %d, got %d", maxLoadConcurrency, s.Concurrency)
	}
	if a.By == "" {
		a.By = "status"
	}
	if !loadByRE.MatchString(a.By) {
		c.errorf(path+".expect.by", "%q: want status, field:<Name> or header:<Name>", a.By)
	}
	if a.Tolerance == 0 {
		a.Tolerance = 5
	}
	if a.Tolerance < 0 || a.Tolerance > 50 {
		c.errorf(path+".expect.tolerance", "must be between 0 and 50 percentage points, got %v", s.Expect.Tolerance)
	}
	if len(s.Expect.Distribution) == 0 {
		c.errorf(path+".expect.distribution", "required: value → percent of requests, adding up to 100")
	}
	sum := 0.0
	for v, p := range s.Expect.Distribution {
		if p < 0 || p > 100 || math.IsNaN(p) {
			c.errorf(path+".expect.distribution", "%q: %v is not a percentage", v, p)
		}
		sum += p
		a.Distribution = append(a.Distribution, LoadShare{Value: v, Percent: p})
	}
	if len(s.Expect.Distribution) > 0 && math.Abs(sum-100) > 0.01 {
		c.errorf(path+".expect.distribution", "shares add up to %v, want 100", sum)
	}
	sort.Slice(a.Distribution, func(i, j int) bool { return a.Distribution[i].Value < a.Distribution[j].Value })
	if s.Expect.MinLatency != "" {
		a.MinLatency = c.duration(path+".expect.minLatency", s.Expect.MinLatency, 0)
	}
	return a
}

// LoadCheck compares observed counts (value → number of requests, errors
// under LoadErrorValue) out of total with the expectation; it returns one
// line per value out of tolerance.
func LoadCheck(want []LoadShare, tolerance float64, got map[string]int, total int) []string {
	var problems []string
	expected := map[string]float64{}
	for _, s := range want {
		expected[s.Value] = s.Percent
	}
	values := map[string]bool{}
	for v := range expected {
		values[v] = true
	}
	for v := range got {
		values[v] = true
	}
	keys := make([]string, 0, len(values))
	for v := range values {
		keys = append(keys, v)
	}
	sort.Strings(keys)
	for _, v := range keys {
		share := 0.0
		if total > 0 {
			share = float64(got[v]) * 100 / float64(total)
		}
		if math.Abs(share-expected[v]) > tolerance {
			problems = append(problems, fmt.Sprintf("%s: %.1f%% (%d of %d), want %.1f%% ± %.1f", v, share, got[v], total, expected[v], tolerance))
		}
	}
	return problems
}
