// Package probe is the client half of a scenario probe: it runs inside the
// source pod (via `ambientlab-workload probe`, exec'd by the runner), makes
// one HTTP request or one TCP exchange, and reports what happened as one JSON
// Result, classifying failures the way a mesh makes them visible (a ztunnel
// deny is a reset, a missing listener a refusal, a black hole a timeout).
//
// It is stdlib only: it is linked into the per-pod workload binary, which must
// stay small (internal/archtest). It does not judge the result; the runner
// compares it with the scenario's expectations.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

// Outcome is how the attempt ended. The words are those of the scenario
// format (scenarios.Outcome), kept as a separate type so this package needs
// nothing outside the standard library.
type Outcome string

const (
	OK       Outcome = "ok"
	Reset    Outcome = "reset"
	Refused  Outcome = "refused"
	Timeout  Outcome = "timeout"
	DNSError Outcome = "dns-error"
	Error    Outcome = "error"
)

// DefaultMaxBody bounds the body kept in a Result.
const DefaultMaxBody = 64 << 10

// CanaryHeader carries the payload canary on HTTP probes, so a capture can
// look for it in plaintext.
const CanaryHeader = "X-Ambientlab-Canary"

// Request is one probe. Exactly one of URL and TCP is set.
type Request struct {
	URL     string
	TCP     string // host:port
	Method  string // default GET, or POST when Body is set
	Headers http.Header
	Body    string
	HTTP2   bool // HTTP/2 with prior knowledge (h2c) for http:// URLs
	Timeout time.Duration
	// Canary is a random string sent in the payload (and the CanaryHeader) so
	// a packet capture can prove it never crossed the wire in plaintext.
	Canary  string
	MaxBody int
}

// Result is what the probe observed. It is printed as one JSON object.
type Result struct {
	Outcome       Outcome           `json:"outcome"`
	Status        int               `json:"status,omitempty"`
	Proto         string            `json:"proto,omitempty"`
	Headers       map[string]string `json:"headers,omitempty"`
	Body          string            `json:"body,omitempty"`
	BodyTruncated bool              `json:"body_truncated,omitempty"`
	LatencyMS     float64           `json:"latency_ms"`
	LocalAddr     string            `json:"local_addr,omitempty"`
	RemoteAddr    string            `json:"remote_addr,omitempty"`
	Error         string            `json:"error,omitempty"`
}

// Validate checks a request before any network activity.
func (r Request) Validate() error {
	switch {
	case (r.URL == "") == (r.TCP == ""):
		return errors.New("set exactly one of --url and --tcp")
	case r.TCP != "" && (r.Method != "" || len(r.Headers) > 0 || r.HTTP2):
		return errors.New("--method, -H and --http2 apply to --url only")
	case r.Timeout <= 0:
		return errors.New("--timeout must be > 0")
	}
	if r.TCP != "" {
		if _, _, err := net.SplitHostPort(r.TCP); err != nil {
			return fmt.Errorf("--tcp %q: %v", r.TCP, err)
		}
	}
	return nil
}

// Run performs the probe. It never returns an error: every failure is a
// Result with an Outcome and the error text.
func Run(ctx context.Context, r Request) Result {
	if err := r.Validate(); err != nil {
		return Result{Outcome: Error, Error: err.Error()}
	}
	if r.MaxBody <= 0 {
		r.MaxBody = DefaultMaxBody
	}
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	start := time.Now()
	var res Result
	if r.TCP != "" {
		res = runTCP(ctx, r)
	} else {
		res = runHTTP(ctx, r)
	}
	res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	return res
}

// recordingDialer remembers the addresses of the connection it made.
type recordingDialer struct {
	net.Dialer
	local, remote string
}

func (d *recordingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.Dialer.DialContext(ctx, network, addr)
	if err == nil {
		d.local, d.remote = c.LocalAddr().String(), c.RemoteAddr().String()
	}
	return c, err
}

func runHTTP(ctx context.Context, r Request) Result {
	d := &recordingDialer{}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true, DisableCompression: true}
	if r.HTTP2 {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	defer tr.CloseIdleConnections()
	// The canary always rides in a header; it joins the body only when there
	// is one, so it never turns a GET into a POST.
	body := r.Body
	if body != "" {
		body += r.Canary
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
		if body != "" {
			method = http.MethodPost
		}
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, rd)
	if err != nil {
		return Result{Outcome: Error, Error: err.Error()}
	}
	for k, vs := range r.Headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if h := r.Headers.Get("Host"); h != "" {
		req.Host = h
	}
	if r.Canary != "" {
		req.Header.Set(CanaryHeader, r.Canary)
	}
	resp, err := (&http.Client{Transport: tr, CheckRedirect: noRedirects}).Do(req)
	if err != nil {
		return Result{Outcome: Classify(err), Error: err.Error(), LocalAddr: d.local, RemoteAddr: d.remote}
	}
	defer resp.Body.Close()
	res := Result{Outcome: OK, Status: resp.StatusCode, Proto: resp.Proto, LocalAddr: d.local, RemoteAddr: d.remote,
		Headers: map[string]string{}}
	for k, vs := range resp.Header {
		res.Headers[k] = strings.Join(vs, ", ")
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(r.MaxBody)+1))
	if len(b) > r.MaxBody {
		b, res.BodyTruncated = b[:r.MaxBody], true
	}
	res.Body = string(b)
	if err != nil {
		// The response started, then the connection broke: that is what the
		// client saw, so the outcome says so.
		res.Outcome, res.Error = Classify(err), err.Error()
	}
	return res
}

// noRedirects returns redirects as they are: a probe reports what the first
// hop answered.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// tcpGreeting is sent when no body is given, so an echo has something to echo.
const tcpGreeting = "ambientlab-probe\n"

func runTCP(ctx context.Context, r Request) Result {
	d := &recordingDialer{}
	c, err := d.DialContext(ctx, "tcp", r.TCP)
	if err != nil {
		return Result{Outcome: Classify(err), Error: err.Error()}
	}
	defer c.Close()
	res := Result{LocalAddr: d.local, RemoteAddr: d.remote}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	payload := r.Body
	if payload == "" {
		payload = tcpGreeting
	}
	payload += r.Canary
	if _, err := io.WriteString(c, payload); err != nil {
		res.Outcome, res.Error = Classify(err), err.Error()
		return res
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite() // half-close: an echo answers and closes
	}
	b, err := io.ReadAll(io.LimitReader(c, int64(r.MaxBody)+1))
	if len(b) > r.MaxBody {
		b, res.BodyTruncated = b[:r.MaxBody], true
	}
	res.Body = string(b)
	if err != nil {
		res.Outcome, res.Error = Classify(err), err.Error()
		return res
	}
	res.Outcome = OK
	return res
}

// Classify maps a dial, write or read error to an Outcome by errno where
// there is one: ECONNRESET (and a peer close before any response) is a
// reset, ECONNREFUSED a refusal, any deadline a timeout, a failed name
// lookup a dns-error.
func Classify(err error) Outcome {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case err == nil:
		return OK
	case errors.As(err, &dnsErr):
		return DNSError
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return Reset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// The peer closed without answering: what a client sees of an Envoy
		// TCP deny, and what a RST after the handshake often surfaces as.
		return Reset
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return Timeout
	case errors.As(err, &netErr) && netErr.Timeout():
		return Timeout
	}
	return Error
}
