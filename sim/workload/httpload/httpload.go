// Package httpload is the client of the scenario `load` step: it sends Count
// HTTP requests with Concurrency workers from inside a client pod (via
// `ambientlab-workload load`) and reports how the responses were
// distributed — by status, by a field of the echo report (Field=value lines,
// e.g. ServiceVersion or Hostname), or by a response header — with latency
// bounds, as one JSON Result.
//
// It judges nothing: the scenario runner compares the distribution with the
// step's expectation. It is stdlib only, because it is linked into the
// per-pod workload binary (internal/archtest).
package httpload

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits that keep one run bounded whatever the flags say.
const (
	MaxCount       = 100_000
	MaxConcurrency = 256
	// maxBody is how much of each response is read to find a field.
	maxBody = 64 << 10
)

// None is the value recorded when a response lacks the field or header.
const None = "<none>"

// Config is one run.
type Config struct {
	URL         string
	Method      string
	Headers     http.Header
	Body        string
	HTTP2       bool // h2c with prior knowledge
	Count       int
	Concurrency int
	Timeout     time.Duration // per request
	// By is "status", "field:<Name>" (echo report line Name=value) or
	// "header:<Name>".
	By string
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch {
	case !strings.HasPrefix(c.URL, "http://"):
		return fmt.Errorf("url %q: want http://", c.URL)
	case c.Count < 1 || c.Count > MaxCount:
		return fmt.Errorf("count %d: want 1-%d", c.Count, MaxCount)
	case c.Concurrency < 1 || c.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency %d: want 1-%d", c.Concurrency, MaxConcurrency)
	case c.Timeout <= 0:
		return errors.New("timeout must be positive")
	}
	if _, _, err := parseBy(c.By); err != nil {
		return err
	}
	return nil
}

func parseBy(by string) (kind, name string, err error) {
	if by == "" || by == "status" {
		return "status", "", nil
	}
	kind, name, ok := strings.Cut(by, ":")
	if !ok || name == "" || (kind != "field" && kind != "header") {
		return "", "", fmt.Errorf("by %q: want status, field:<Name> or header:<Name>", by)
	}
	return kind, name, nil
}

// Result is what a run observed.
type Result struct {
	Count int `json:"count"`
	// Responses got an HTTP response; Errors did not (by error text).
	Responses int            `json:"responses"`
	Errors    map[string]int `json:"errors,omitempty"`
	Statuses  map[string]int `json:"statuses"`
	// Values counts the By value of every response (statuses again when By
	// is status).
	By           string         `json:"by"`
	Values       map[string]int `json:"values"`
	MinLatencyMS float64        `json:"minLatencyMs"`
	P50LatencyMS float64        `json:"p50LatencyMs"`
	MaxLatencyMS float64        `json:"maxLatencyMs"`
	DurationMS   float64        `json:"durationMs"`
}

// Run sends the requests. Transport errors are counted, not returned; the
// error is for an invalid configuration or a cancelled context.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	kind, name, _ := parseBy(cfg.By)
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency, DisableCompression: true}
	if cfg.HTTP2 {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	res := Result{Count: cfg.Count, By: cfg.By, Errors: map[string]int{}, Statuses: map[string]int{}, Values: map[string]int{}}
	latencies := make([]time.Duration, 0, cfg.Count)
	var mu sync.Mutex
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				status, value, lat, err := once(ctx, client, &cfg, kind, name)
				mu.Lock()
				if err != nil {
					res.Errors[err.Error()]++
				} else {
					res.Responses++
					res.Statuses[strconv.Itoa(status)]++
					res.Values[value]++
					latencies = append(latencies, lat)
				}
				mu.Unlock()
			}
		}()
	}
	for range cfg.Count {
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	res.DurationMS = ms(time.Since(start))
	if len(latencies) > 0 {
		slices.Sort(latencies)
		res.MinLatencyMS, res.P50LatencyMS, res.MaxLatencyMS = ms(latencies[0]), ms(latencies[len(latencies)/2]), ms(latencies[len(latencies)-1])
	}
	return res, ctx.Err()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func once(ctx context.Context, client *http.Client, cfg *Config, kind, name string) (int, string, time.Duration, error) {
	var body io.Reader
	if cfg.Body != "" {
		body = strings.NewReader(cfg.Body)
	}
	method := cfg.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, cfg.URL, body)
	if err != nil {
		return 0, "", 0, err
	}
	for k, vs := range cfg.Headers {
		req.Header[k] = vs
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", 0, errors.Unwrap(err) // drop the per-request URL so errors aggregate
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_, _ = io.Copy(io.Discard, resp.Body)
	lat := time.Since(start)
	value := strconv.Itoa(resp.StatusCode)
	switch kind {
	case "field":
		value = fieldValue(string(b), name)
	case "header":
		if value = resp.Header.Get(name); value == "" {
			value = None
		}
	}
	return resp.StatusCode, value, lat, nil
}

// fieldValue returns the first "Name=value" line of an echo text report.
func fieldValue(body, name string) string {
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+"="); ok {
			return v
		}
	}
	return None
}
