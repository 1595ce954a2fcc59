package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/ambientlab/ambientlab/internal/rawhttp"
)

// RawRequest is one exchange for `probe --raw`: bytes written exactly as
// given (HTTP/1) or frames built exactly as given (HTTP/2 prior knowledge),
// on a fresh connection, for malformed requests no ordinary client sends
// (smuggling, forbidden HTTP/2 fields; reliability W6, W7). The runner sends
// a JSON array of them on stdin; the probe prints a JSON array of
// rawhttp.Result in the same order.
type RawRequest struct {
	// Addr is host:port to connect to.
	Addr string `json:"addr"`
	// Proto is "http1" or "http2".
	Proto string `json:"proto"`
	// H1 is the HTTP/1 bytes (base64 in JSON); Responses how many to read.
	H1        []byte `json:"h1,omitempty"`
	Responses int    `json:"responses,omitempty"`
	// H2 is the HTTP/2 request for stream 1.
	H2 *rawhttp.H2Request `json:"h2,omitempty"`
	// TimeoutMS bounds the exchange (dial included); default 5000.
	TimeoutMS int `json:"timeout_ms,omitempty"`
}

// Validate checks r before any network activity.
func (r RawRequest) Validate() error {
	if _, _, err := net.SplitHostPort(r.Addr); err != nil {
		return fmt.Errorf("raw request addr %q: %v", r.Addr, err)
	}
	switch {
	case r.Proto == "http1" && len(r.H1) > 0 && r.H2 == nil:
	case r.Proto == "http2" && r.H2 != nil && len(r.H1) == 0:
	default:
		return errors.New(`raw request: want proto "http1" with h1 bytes, or "http2" with an h2 request`)
	}
	if r.TimeoutMS < 0 || r.Responses < 0 {
		return errors.New("raw request: negative timeout_ms or responses")
	}
	return nil
}

// RunRaw performs one raw exchange. Failures are in the Result: a local one
// (invalid request, dial) in Error, a server refusal in Refusal.
func RunRaw(ctx context.Context, r RawRequest) rawhttp.Result {
	if err := r.Validate(); err != nil {
		return rawhttp.Result{Error: err.Error()}
	}
	timeout := time.Duration(r.TimeoutMS) * time.Millisecond
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", r.Addr)
	if err != nil {
		return rawhttp.Result{Error: fmt.Sprintf("dial %s: %v (%s)", r.Addr, err, Classify(err))}
	}
	defer c.Close()
	if r.Proto == "http2" {
		return rawhttp.DoH2(ctx, c, *r.H2)
	}
	return rawhttp.DoH1(ctx, c, r.H1, max(r.Responses, 1))
}
