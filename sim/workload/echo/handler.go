package echo

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// maxBodyBytes bounds every request body the workload reads.
	maxBodyBytes = 10 << 20
	// StatsPath serves the per-port, per-source counters. Requests to it are
	// not counted, so a harness polling it does not show up as traffic.
	StatsPath = "/__ambientlab/stats"
	// echoJSONPath always answers with the JSON report.
	echoJSONPath = "/echo.json"
)

// httpHandler serves one HTTP port: httpbin endpoints plus the echo report.
type httpHandler struct {
	id    Identity
	port  uint16
	stats *Stats
	log   *accessLog
	rng   *lockedRand
	fails *failCounter
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	r.Body = http.MaxBytesReader(rec, r.Body, maxBodyBytes)
	srcIP, _ := splitHostPort(r.RemoteAddr)
	if r.URL.Path != StatsPath {
		h.stats.Record(h.port, "http", srcIP)
	}
	h.route(rec, r)
	h.log.request(r, rec.status())
}

func (h *httpHandler) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/headers":
		writeJSON(w, http.StatusOK, map[string]any{"headers": httpbinHeaders(r)})
	case p == "/ip":
		ip, _ := splitHostPort(r.RemoteAddr)
		writeJSON(w, http.StatusOK, map[string]string{"origin": ip})
	case p == "/get":
		if allowMethods(w, r, http.MethodGet, http.MethodHead) {
			serveGet(w, r)
		}
	case p == "/anything" || strings.HasPrefix(p, "/anything/"):
		serveAnything(w, r, true)
	case p == "/post" || p == "/put" || p == "/patch" || p == "/delete":
		if allowMethods(w, r, strings.ToUpper(p[1:])) {
			serveAnything(w, r, false)
		}
	case strings.HasPrefix(p, "/status/"):
		serveStatus(w, p[len("/status/"):], h.rng)
	case strings.HasPrefix(p, "/delay/"):
		serveDelay(w, r, p[len("/delay/"):])
	case p == "/uuid":
		serveUUID(w)
	case strings.HasPrefix(p, "/bytes/"):
		serveBytes(w, r, p[len("/bytes/"):], h.rng)
	case p == StatsPath:
		writeJSON(w, http.StatusOK, h.stats.Snapshot())
	default:
		h.serveEcho(w, r)
	}
}

// serveEcho reports what the server observed: Istio's Field=value text, or JSON
// for /echo.json and clients that accept application/json. Like Istio's echo,
// ?codes=code[:weight],... picks the response code.
func (h *httpHandler) serveEcho(w http.ResponseWriter, r *http.Request) {
	if h.fails.fail(w, r) {
		return
	}
	code := http.StatusOK
	if s := r.URL.Query().Get("codes"); s != "" {
		codes, err := parseCodes(s)
		if err != nil {
			http.Error(w, "codes: "+err.Error(), http.StatusBadRequest)
			return
		}
		code = pickCode(codes, h.rng)
	}
	o := observe(r, h.port, code)
	if r.URL.Path == echoJSONPath || strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, code, NewReport(h.id, o))
		return
	}
	w.Header().Set("Content-Type", "application/text")
	w.WriteHeader(code)
	_, _ = w.Write(FieldText(h.id, o))
}

func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(marshalIndent(v))
}

// statusRecorder remembers the response code for the access log.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}

// accessLog writes one line per request or connection; what `ambientlab logs`
// shows. A mutex keeps concurrent lines whole.
type accessLog struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

func newAccessLog(w io.Writer) *accessLog {
	if w == nil {
		w = io.Discard
	}
	return &accessLog{w: w, now: time.Now}
}

const logTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// request logs "time method host path status src proto".
func (l *accessLog) request(r *http.Request, code int) {
	l.printf("%s %s %s %s %d %s %s\n", l.now().UTC().Format(logTimeFormat),
		logField(r.Method), logField(r.Host), logField(r.URL.RequestURI()), code, logField(r.RemoteAddr), logField(r.Proto))
}

// conn logs "time tcp src bytes_in bytes_out duration".
func (l *accessLog) conn(src string, in, out int64, d time.Duration) {
	l.printf("%s tcp %s %d %d %s\n", l.now().UTC().Format(logTimeFormat), logField(src), in, out, d.Round(time.Microsecond))
}

func (l *accessLog) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = fmt.Fprintf(l.w, format, args...)
}

// logField keeps a log line space-separated and single-line whatever the client sent.
func logField(s string) string {
	if s == "" {
		return "-"
	}
	if strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) < 0 {
		return s
	}
	return strconv.Quote(s)
}

// lockedRand is a seeded generator shared by a port's handlers, so weighted
// status picks are reproducible for a given seed and request order.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(seed uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (l *lockedRand) float64() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

func (l *lockedRand) uint64() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Uint64()
}
