package attacks

import (
	"strings"

	"github.com/ambientlab/ambientlab/internal/rawhttp"
)

// Families, for grouping in reports.
const (
	FamilyPath     = "path-normalization"
	FamilyQuery    = "fragment-query"
	FamilyMethod   = "method"
	FamilyHost     = "host"
	FamilyHeader   = "header"
	FamilySmuggle  = "http1-smuggling"
	FamilyH2       = "h2-to-h1-translation"
	FamilyBytes    = "control-bytes"
	FamilySize     = "size-and-body"
	FamilyInternal = "internal-headers"
	FamilyJWT      = "jwt"
)

// Env is what the corpus needs from the runner: the authority clients use
// for the protected Service, and tokens from the fixture's issuer.
type Env struct {
	// Host is the Service authority, e.g. "httpbin.apps.svc.cluster.local:8000".
	Host   string
	Tokens Tokens
}

// Tokens are JWTs for the fixture's RequestAuthentication: Alice and Bob
// valid (sub alice / bob), Expired (sub alice, exp in the past), Stranger
// (valid, from an issuer the fixture does not know), HS256 (signed with the
// issuer's public JWKS as an HMAC key), Forged (right issuer and kid, wrong key).
type Tokens struct {
	Alice, Bob, Expired, Stranger, HS256, Forged string
}

// AlgNone is an unsigned token naming the fixture issuer (alg "none").
const AlgNone = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwic3ViIjoiYWxpY2UifQ."

func get(env Env, target string, h ...string) *Request { return req(env, "GET", target, h...) }

// req is a request with "Name: value" header lines.
func req(env Env, method, target string, h ...string) *Request {
	r := &Request{Method: method, Target: target, Host: env.Host}
	for _, l := range h {
		name, value, _ := strings.Cut(l, ": ")
		r.Header = append(r.Header, rawhttp.Field{Name: name, Value: value})
	}
	return r
}

func onHost(r *Request, host string) *Request { r.Host = host; return r }

func withBody(r *Request, body string) *Request { r.Body = body; return r }

func status(codes ...int) Outcome { return Outcome{Statuses: codes} }

// served is a 200 whose upstream received exactly the given targets.
func served(seen ...string) Outcome { return Outcome{Statuses: []int{200}, Seen: seen} }

func refused(how string) *Outcome { return &Outcome{Refusal: how} }

// rstProtocol is a stream reset with PROTOCOL_ERROR: what Envoy (nghttp2 /
// oghttp2 messaging checks, "http2.violation.of.messaging.rule" and
// "http2.invalid.header.field" in source/common/http/http2/codec_impl.cc) and
// Go's h2 server answer a malformed HTTP/2 request (RFC 9113 §8.1.1).
var rstProtocol = refused("rst_stream:PROTOCOL_ERROR")

func side(r *Request, o Outcome) Side { return Side{Req: r, Want: o} }

func h1(raw string, o Outcome) Side { return Side{H1Raw: raw, Want: o} }

// Corpus is every case. Runners pick the protocols each case applies to
// (Case.Applies) and the expectation per protocol and mode (Side.Expect).
func Corpus(env Env) []Case {
	var out []Case
	out = append(out, pathCases(env)...)
	out = append(out, requestCases(env)...)
	out = append(out, smugglingCases(env)...)
	out = append(out, h2Cases(env)...)
	out = append(out, jwtCases(env)...)
	return out
}

// ok200 is the plain twin most cases share.
func ok200(env Env) Side { return side(get(env, "/anything"), served("/anything")) }

// requestCases are W2–W5 and W7–W9 over both protocols (or HTTP/1 only
// where HTTP/2 cannot express the attack).
func requestCases(env Env) []Case {
	H := env.Host
	nulTwin := pathSide(env, "/anything%2Ehtml", norms{"/anything%2Ehtml", "/anything.html", "/anything.html", "/anything.html"})
	return []Case{
		// W2: Envoy rejects fragments (http_reject_path_with_fragment, the
		// CVE-2021-39156 fix) and matches `paths` without the query.
		{ID: "W2", Family: FamilyQuery, Name: "fragment", Attack: side(get(env, "/admin#x"), status(400)), Twin: ok200(env)},
		{ID: "W2", Family: FamilyQuery, Name: "fragment after query", Attack: side(get(env, "/admin/x?a#b"), status(400)), Twin: side(get(env, "/anything?a"), served("/anything?a"))},
		{ID: "W2", Family: FamilyQuery, Name: "query ignored for match", Attack: side(get(env, "/admin?x=/anything"), status(403)), Twin: side(get(env, "/anything?x=/admin"), served("/anything?x=/admin"))},
		// W3: divergence (reliability §4) — a non-upper-case method is 400 so
		// `methods` cannot be dodged by case; Envoy forwards it.
		{ID: "W3", Family: FamilyMethod, Name: "lower-case method", Attack: side(req(env, "delete", "/anything"), status(400)), Twin: ok200(env)},
		{ID: "W3", Family: FamilyMethod, Name: "mixed-case method", Attack: side(req(env, "Delete", "/anything"), status(400)), Twin: side(req(env, "PATCH", "/anything"), served("/anything"))},
		{ID: "W3", Family: FamilyMethod, Name: "denied method", Attack: side(req(env, "DELETE", "/anything"), status(403)), Twin: side(req(env, "PUT", "/anything"), served("/anything"))},
		{ID: "W3", Family: FamilyMethod, Name: "whitespace after method", Attack: h1("GET  /admin HTTP/1.1\r\nHost: "+H+"\r\n\r\n", status(400)), Twin: ok200(env)},
		{ID: "W3", Family: FamilyMethod, Name: "CONNECT in tunnel", Attack: h1("CONNECT 10.0.0.1:80 HTTP/1.1\r\nHost: 10.0.0.1:80\r\n\r\n", status(400)), Twin: side(req(env, "OPTIONS", "/anything"), served("/anything"))},
		// W4: Istio `hosts` match case-insensitively and port-less
		// (ISTIO-SECURITY-2021-008, CVE-2021-39155).
		{ID: "W4", Family: FamilyHost, Name: "host case", Attack: side(onHost(get(env, "/anything"), "BLOCKED.Example.com"), status(403)), Twin: side(onHost(get(env, "/anything"), "Allowed.Example.com"), served("/anything"))},
		{ID: "W4", Family: FamilyHost, Name: "host with port", Attack: side(onHost(get(env, "/anything"), "blocked.example.com:8000"), status(403)), Twin: side(onHost(get(env, "/anything"), "allowed.example.com:8000"), served("/anything"))},
		{ID: "W4", Family: FamilyHost, Name: "host root label", Attack: side(onHost(get(env, "/anything"), "blocked.example.com."), status(403)), Twin: side(onHost(get(env, "/anything"), "allowed.example.com."), served("/anything"))},
		{ID: "W4", Family: FamilyHost, Name: "absolute-form overrides Host", Attack: h1("GET http://blocked.example.com/anything HTTP/1.1\r\nHost: allowed.example.com\r\n\r\n", status(403)),
			Twin: h1("GET http://allowed.example.com/anything HTTP/1.1\r\nHost: blocked.example.com\r\n\r\n", served("/anything"))},
		{ID: "W4", Family: FamilyHost, Name: "duplicate Host", Attack: h1("GET /anything HTTP/1.1\r\nHost: "+H+"\r\nHost: blocked.example.com\r\n\r\n", status(400)), Twin: ok200(env)},
		{ID: "W4", Family: FamilyHost, Name: "userinfo in Host", Attack: Side{Req: onHost(get(env, "/anything"), "x@blocked.example.com"), Want: status(400), WantH2: rstProtocol}, Twin: side(onHost(get(env, "/anything"), "allowed.example.com"), served("/anything"))},
		{ID: "W4", Family: FamilyHost, Name: "port out of range", Attack: side(onHost(get(env, "/anything"), "blocked.example.com:65536"), status(400)), Twin: side(onHost(get(env, "/anything"), "blocked.example.org:65535"), served("/anything"))},
		// W5: every value of a repeated header is matched on its own
		// (ISTIO-SECURITY-2026-001, CVE-2026-26308); names are case-insensitive.
		{ID: "W5", Family: FamilyHeader, Name: "repeated header", Attack: side(get(env, "/anything", "x-user: alice", "x-user: mallory"), status(403)), Twin: side(get(env, "/anything", "x-user: alice", "x-user: bob"), served("/anything"))},
		{ID: "W5", Family: FamilyHeader, Name: "header name case", Attack: side(get(env, "/anything", "X-USER: mallory"), status(403)), Twin: side(get(env, "/anything", "X-USER: alice"), served("/anything"))},
		{ID: "W5", Family: FamilyHeader, Name: "whitespace in header name", Attack: h1("GET /anything HTTP/1.1\r\nHost: "+H+"\r\nx-user : mallory\r\n\r\n", status(400)), Twin: side(get(env, "/anything", "x-user: alice"), served("/anything"))},
		// W7 control bytes: Envoy refuses CR, LF and NUL in values (nghttp2's
		// checks via source/common/http/header_utility.cc; the http1 codec
		// answers 400, http2 resets the stream, see rstProtocol).
		{ID: "W7", Family: FamilyBytes, Name: "NUL in header value", Attack: Side{Req: get(env, "/anything", "x-a: a\x00b"), Want: status(400), WantH2: rstProtocol}, Twin: side(get(env, "/anything", "x-a: ab"), served("/anything"))},
		{ID: "W7", Family: FamilyBytes, Name: "NUL in path", Attack: Side{Req: get(env, "/adm\x00in"), Want: status(400), WantH2: rstProtocol}, Twin: ok200(env)},
		{ID: "W7", Family: FamilyBytes, Name: "encoded NUL in path", Attack: side(get(env, "/admin%00.html"), status(400)), Twin: nulTwin},
		{ID: "W7", Family: FamilyBytes, Name: "raw non-ASCII in path", Attack: side(get(env, "/admin/\xc3\xa9"), status(400)), Twin: side(get(env, "/anything/%C3%A9"), served("/anything/%C3%A9"))},
		{ID: "W7", Family: FamilyBytes, Name: "h2c upgrade", Attack: h1("GET /anything HTTP/1.1\r\nHost: "+H+"\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n", status(400)), Twin: ok200(env)},
		// W8: 431 for oversized headers (Envoy: HCM max_request_headers_kb,
		// default 60 KiB); a DENY is decided before the body is read (RBAC
		// runs on decodeHeaders).
		{ID: "W8", Family: FamilySize, Name: "2 MB of headers", Attack: h1("GET /anything HTTP/1.1\r\nHost: "+H+"\r\nx-big: "+strings.Repeat("a", 2<<20)+"\r\n\r\n", status(431)), Twin: side(get(env, "/anything", "x-big: small"), served("/anything"))},
		{ID: "W8", Family: FamilySize, Name: "10 MB body to a DENY path", Attack: h1("POST /admin HTTP/1.1\r\nHost: "+H+"\r\nContent-Length: 10485760\r\n\r\n"+strings.Repeat("b", 1024), status(403)),
			Twin: side(withBody(req(env, "POST", "/anything"), "body"), served("/anything"))},
		// W9: client-supplied internal headers are stripped before any filter
		// reads them (ISTIO-SECURITY-2023-001, CVE-2023-27487; Envoy's
		// source/common/http/conn_manager_utility.cc cleans x-envoy-* internal
		// headers on external requests and sets x-forwarded-for itself).
		{ID: "W9", Family: FamilyInternal, Name: "x-forwarded-for spoof", Attack: side(get(env, "/internal/x", "X-Forwarded-For: 10.1.2.3"), status(403)), Twin: side(get(env, "/anything", "X-Forwarded-For: 10.1.2.3"), served("/anything"))},
		{ID: "W9", Family: FamilyInternal, Name: "forged XFCC and envoy/istio headers", Attack: side(get(env, "/admin", "X-Forwarded-Client-Cert: URI=spiffe://cluster.local/ns/admin/sa/admin", "X-Envoy-Original-Path: /anything"), status(403)),
			Twin: side(get(env, "/anything", "X-Forwarded-Client-Cert: URI=spiffe://cluster.local/ns/admin/sa/admin", "X-Envoy-Original-Path: /admin", "X-Istio-Attributes: x", "X-Ambientlab-Peer: x"), served("/anything"))},
		{ID: "W9", Family: FamilyInternal, Name: "Connection-nominated header", Attack: h1("GET /anything HTTP/1.1\r\nHost: "+H+"\r\nx-user: mallory\r\nConnection: keep-alive\r\n\r\n", status(403)),
			Twin: h1("GET /anything HTTP/1.1\r\nHost: "+H+"\r\nx-user: alice\r\nConnection: x-user\r\n\r\n", served("/anything"))},
	}
}
