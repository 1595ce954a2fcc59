package attacks

import (
	"fmt"
	"strings"

	"github.com/ambientlab/ambientlab/internal/rawhttp"
)

// Mode is a path normalization mode in meshConfig.pathNormalization
// spelling. The corpus carries its own type so that it stays independent of
// any implementation (the conformance suite is black-box).
type Mode string

const (
	ModeNone                  Mode = "NONE"
	ModeBase                  Mode = "BASE"
	ModeMergeSlashes          Mode = "MERGE_SLASHES"
	ModeDecodeAndMergeSlashes Mode = "DECODE_AND_MERGE_SLASHES"
)

// Modes lists Istio's four modes, in the order norms tables use.
func Modes() []Mode { return []Mode{ModeNone, ModeBase, ModeMergeSlashes, ModeDecodeAndMergeSlashes} }

// Proto is the protocol a request is sent with.
type Proto string

const (
	// H1 is HTTP/1.1 written byte for byte.
	H1 Proto = "http1"
	// H2 is HTTP/2 with prior knowledge (h2c), one request per connection.
	H2 Proto = "http2"
)

// Protos lists both protocols.
func Protos() []Proto { return []Proto{H1, H2} }

// Request is a protocol-neutral request: rendered as an HTTP/1.1 request
// line plus headers, or as HTTP/2 pseudo-headers plus lower-cased fields.
type Request struct {
	Method, Target, Host string
	Header               []rawhttp.Field
	Body                 string
}

// Side is one request of a case (the attack or its twin) and its expected
// outcome. Req renders for both protocols; H1Raw or H2Raw replace it for a
// protocol-specific attack (a Side with only one of them applies to that
// protocol only).
type Side struct {
	Req *Request
	// ReqByMode replaces Req in one mode (see pathCases).
	ReqByMode map[Mode]*Request
	H1Raw     string
	H2Raw     *rawhttp.H2Request
	// Want is the outcome in every mode and protocol unless overridden.
	Want Outcome
	// WantH2 overrides Want for HTTP/2.
	WantH2 *Outcome
	// ByMode overrides Want per normalization mode (path-bearing cases).
	ByMode map[Mode]Outcome
}

// Outcome is what the client must see and what the upstream must receive.
type Outcome struct {
	// Statuses, one per response (HTTP/1 pipelining may give several).
	Statuses []int
	// Refusal is the wire refusal instead of a response: "rst_stream:<CODE>",
	// "goaway:<CODE>" or "closed" (rawhttp.Result.Refusal).
	Refusal string
	// Seen is exactly the normalized targets the upstream must receive, in
	// order; nil means none.
	Seen []string
	// Aborted are targets whose headers may reach the upstream before their
	// body fails (an HTTP/2 content-length mismatch; whether they do races
	// with the server's reset): a backend may count the request's start,
	// never a complete request. Envoy behaves alike (it streams, then resets
	// the upstream stream). An upper bound, not an exact list.
	Aborted []string
}

// Case is one attack and its positive twin.
type Case struct {
	// ID is the reliability catalogue entry (W1…W10).
	ID string
	// Family groups cases in reports (path-normalization, smuggling, …).
	Family string
	Name   string
	Attack Side
	Twin   Side
}

// Key names a case run uniquely: "W1/path-normalization/doubled slash".
func (c Case) Key() string { return c.ID + "/" + c.Family + "/" + c.Name }

// Applies reports whether both sides can be sent over p.
func (c Case) Applies(p Proto) bool { return c.Attack.applies(p) && c.Twin.applies(p) }

func (s Side) applies(p Proto) bool {
	if p == H1 {
		return s.Req != nil || s.H1Raw != ""
	}
	return s.Req != nil || s.H2Raw != nil
}

// Expect is the outcome of s over p under mode m.
func (s Side) Expect(p Proto, m Mode) Outcome {
	if o, ok := s.ByMode[m]; ok {
		return o
	}
	if p == H2 && s.WantH2 != nil {
		return *s.WantH2
	}
	return s.Want
}

// H1Bytes is s as HTTP/1.1 bytes and the number of responses to read.
func (s Side) H1Bytes(m Mode) (string, int) {
	n := max(len(s.Expect(H1, m).Statuses), 1)
	if s.H1Raw != "" {
		return s.H1Raw, n
	}
	r := s.request(m)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, r.Target, r.Host)
	hasLength := false
	for _, f := range r.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", f.Name, f.Value)
		hasLength = hasLength || strings.EqualFold(f.Name, "content-length") || strings.EqualFold(f.Name, "transfer-encoding")
	}
	if r.Body != "" && !hasLength {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.Body))
	}
	b.WriteString("\r\n" + r.Body)
	return b.String(), n
}

func (s Side) request(m Mode) *Request {
	if r, ok := s.ReqByMode[m]; ok {
		return r
	}
	return s.Req
}

// H2Request is s as an HTTP/2 request.
func (s Side) H2Request(m Mode) rawhttp.H2Request {
	if s.H2Raw != nil {
		return *s.H2Raw
	}
	r := s.request(m)
	fs := []rawhttp.Field{{Name: ":method", Value: r.Method}, {Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: r.Host}, {Name: ":path", Value: r.Target}}
	for _, f := range r.Header {
		fs = append(fs, rawhttp.Field{Name: strings.ToLower(f.Name), Value: f.Value})
	}
	out := rawhttp.H2Request{Fields: fs}
	if r.Body != "" {
		out.Data = []string{r.Body}
	}
	return out
}

// Check compares what happened with o; "" means it matched.
func (o Outcome) Check(got rawhttp.Result, seen []string) string {
	var errs []string
	if got.Error != "" {
		errs = append(errs, "client error: "+got.Error)
	}
	if fmt.Sprint(got.Statuses) != fmt.Sprint(nilIfEmpty(o.Statuses)) || got.Refusal != o.Refusal {
		errs = append(errs, fmt.Sprintf("got statuses %v refusal %q, want %v %q", got.Statuses, got.Refusal, o.Statuses, o.Refusal))
	}
	if seen != nil && fmt.Sprintf("%q", nilIfEmpty(seen)) != fmt.Sprintf("%q", nilIfEmpty(o.Seen)) {
		errs = append(errs, fmt.Sprintf("upstream received %q, want %q", seen, o.Seen))
	}
	return strings.Join(errs, "; ")
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
