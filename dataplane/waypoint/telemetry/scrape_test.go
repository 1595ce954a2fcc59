package telemetry_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// sample is one series of a scraped exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape GETs /metrics from a real HTTP server over reg and parses the text
// exposition format (comments skipped; label values with \\, \" and \n escapes).
func scrape(t *testing.T, reg *prometheus.Registry) []sample {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.Header.Set("Accept", "text/plain") // the text format, not protobuf
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	defer srv.Client().CloseIdleConnections()
	var out []sample
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out = append(out, s)
	}
	return out
}

func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, fmt.Errorf("no value")
	}
	s.name, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for {
			if line == "" {
				return s, fmt.Errorf("unterminated label set")
			}
			if line[0] == '}' {
				break
			}
			eq := strings.Index(line, `="`)
			if eq < 0 {
				return s, fmt.Errorf("label without value")
			}
			key := line[:eq]
			line = line[eq+2:]
			var val strings.Builder
			for {
				if line == "" {
					return s, fmt.Errorf("unterminated label %s", key)
				}
				c := line[0]
				line = line[1:]
				if c == '"' {
					break
				}
				if c == '\\' && line != "" {
					c, line = line[0], line[1:]
					if c == 'n' {
						c = '\n'
					}
				}
				val.WriteByte(c)
			}
			s.labels[key] = val.String()
			line = strings.TrimPrefix(line, ",")
		}
		line = line[1:]
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(line), 64)
	s.value = v
	return s, err
}

// find returns the series of name whose labels include want, failing the
// test unless exactly one matches.
func find(t *testing.T, samples []sample, name string, want map[string]string) float64 {
	t.Helper()
	return findSample(t, samples, name, want).value
}

// findSample is find returning the whole series.
func findSample(t *testing.T, samples []sample, name string, want map[string]string) sample {
	t.Helper()
	var hits []sample
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		hits = append(hits, s)
	}
	if len(hits) != 1 {
		t.Fatalf("%s%v: %d series match, want 1; series of that name:\n%s", name, want, len(hits), dump(samples, name))
	}
	return hits[0]
}

func dump(samples []sample, name string) string {
	var b strings.Builder
	for _, s := range samples {
		if s.name == name {
			keys := make([]string, 0, len(s.labels))
			for k := range s.labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			fmt.Fprintf(&b, "  %s{", s.name)
			for _, k := range keys {
				fmt.Fprintf(&b, "%s=%q,", k, s.labels[k])
			}
			fmt.Fprintf(&b, "} %v\n", s.value)
		}
	}
	return b.String()
}

// stepClock advances by step on every reading, so each measured interval
// (one reading at the start, one at the end) is exactly step.
type stepClock struct {
	base time.Time
	step time.Duration
	n    atomic.Int64
}

func (c *stepClock) Now() time.Time { return c.base.Add(time.Duration(c.n.Add(1)) * c.step) }

// logBuffer collects access log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) has(needle string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), needle)
}

// line returns the only line containing every needle.
func (l *logBuffer) line(t *testing.T, needles ...string) string {
	t.Helper()
	l.mu.Lock()
	text := l.buf.String()
	l.mu.Unlock()
	var hits []string
next:
	for _, ln := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		for _, n := range needles {
			if !strings.Contains(ln, n) {
				continue next
			}
		}
		hits = append(hits, ln)
	}
	if len(hits) != 1 {
		t.Fatalf("%d access log lines contain %q, want 1; log:\n%s", len(hits), needles, text)
	}
	return hits[0]
}

func assertContains(t *testing.T, line string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(line, p) {
			t.Errorf("access log line lacks %s:\n%s", p, line)
		}
	}
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseSample(t *testing.T) {
	for _, tc := range []struct {
		line string
		want sample
	}{
		{`up 1`, sample{name: "up", labels: map[string]string{}, value: 1}},
		{`a_total{x="1",y="q\"\\z"} 2.5`, sample{name: "a_total", labels: map[string]string{"x": "1", "y": `q"\z`}, value: 2.5}},
		{`b{x=""} 0`, sample{name: "b", labels: map[string]string{"x": ""}, value: 0}},
	} {
		got, err := parseSample(tc.line)
		if err != nil || got.name != tc.want.name || got.value != tc.want.value || fmt.Sprint(got.labels) != fmt.Sprint(tc.want.labels) {
			t.Errorf("parseSample(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{`x{a="1"`, `x{a} 1`, `x`} {
		if _, err := parseSample(bad); err == nil {
			t.Errorf("parseSample(%q) succeeded", bad)
		}
	}
}

func FuzzParseSample(f *testing.F) {
	f.Add(`a_total{x="1",y="q\"\\z"} 2.5`)
	f.Add(`x{a="`)
	f.Fuzz(func(t *testing.T, line string) {
		_, _ = parseSample(line) // must not panic
	})
}
