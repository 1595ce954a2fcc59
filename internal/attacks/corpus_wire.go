package attacks

import (
	"strconv"

	"github.com/ambientlab/ambientlab/internal/rawhttp"
)

// smugglingCases are W6, HTTP/1 only: the upstream must receive exactly the
// requests that were authorized; ambiguous framing is 400 (RFC 9112 §6.3;
// Envoy's http1 codec rejects CL+TE and differing Content-Length, see
// source/common/http/http1/codec_impl.cc and reliability D8 for Go's parser).
func smugglingCases(env Env) []Case {
	H := env.Host
	post := func(target, framing, body string) string {
		return "POST " + target + " HTTP/1.1\r\nHost: " + H + "\r\n" + framing + "\r\n" + body
	}
	hidden := "GET /admin HTTP/1.1\r\nHost: " + H + "\r\n\r\n"
	return []Case{
		{ID: "W6", Family: FamilySmuggle, Name: "CL+TE hides a request",
			Attack: h1(post("/anything", "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"+hidden), Outcome{Statuses: []int{200, 403}, Seen: []string{"/anything"}}),
			Twin:   h1(post("/anything", "Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n0\r\n\r\n"), served("/anything"))},
		{ID: "W6", Family: FamilySmuggle, Name: "differing Content-Length",
			Attack: h1(post("/anything", "Content-Length: 3\r\nContent-Length: 30\r\n", "abc"), status(400)),
			Twin:   h1(post("/anything", "Content-Length: 3\r\n", "abc"), served("/anything"))},
		// Go's parser answers 501 for a transfer coding it does not implement.
		{ID: "W6", Family: FamilySmuggle, Name: "chunked, identity",
			Attack: h1(post("/anything", "Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"), status(501)),
			Twin:   h1(post("/anything", "Transfer-Encoding: chunked\r\n", "0\r\n\r\n"), served("/anything"))},
		// RFC 9112 §6.1: Transfer-Encoding on HTTP/1.0 is faulty framing. Go
		// drops it, serves the request without a body and closes, so the hidden
		// request is never parsed.
		{ID: "W6", Family: FamilySmuggle, Name: "chunked on HTTP/1.0 hides a request",
			Attack: h1("POST /anything HTTP/1.0\r\nHost: "+H+"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"+hidden, served("/anything")),
			Twin:   h1("POST /anything HTTP/1.0\r\nHost: "+H+"\r\nContent-Length: 2\r\n\r\nhi", served("/anything"))},
		{ID: "W6", Family: FamilySmuggle, Name: "pipelined hidden request",
			Attack: h1("GET /anything HTTP/1.1\r\nHost: "+H+"\r\n\r\nGET /admin/x HTTP/1.1\r\nHost: "+H+"\r\n\r\n", Outcome{Statuses: []int{200, 403}, Seen: []string{"/anything"}}),
			Twin:   h1("GET /anything HTTP/1.1\r\nHost: "+H+"\r\n\r\nGET /anything/x HTTP/1.1\r\nHost: "+H+"\r\n\r\n", Outcome{Statuses: []int{200, 200}, Seen: []string{"/anything", "/anything/x"}})},
		{ID: "W6", Family: FamilySmuggle, Name: "bare LF framing",
			Attack: h1("GET /admin HTTP/1.1\nHost: "+H+"\n\n", status(403)),
			Twin:   h1("GET /anything HTTP/1.1\nHost: "+H+"\n\n", served("/anything"))},
		{ID: "W6", Family: FamilySmuggle, Name: "Expect with body to a DENY path",
			Attack: h1(post("/admin", "Expect: 100-continue\r\nContent-Length: 5\r\n", ""), status(403)),
			Twin:   h1(post("/anything", "Content-Length: 5\r\n", "hello"), served("/anything"))},
		// Go unfolds obs-fold into one space (RFC 9112 §5.2 permits it); the
		// unfolded value is both matched and forwarded, so a fold cannot hide
		// a denied value.
		{ID: "W6", Family: FamilySmuggle, Name: "obs-fold hides a denied value",
			Attack: h1("GET /anything HTTP/1.1\r\nHost: "+H+"\r\nx-user:\r\n mallory\r\n\r\n", status(403)),
			Twin:   h1("GET /anything HTTP/1.1\r\nHost: "+H+"\r\nx-user:\r\n alice\r\n\r\n", served("/anything"))},
	}
}

// h2 builds a raw HTTP/2 request: the four pseudo-headers for GET path on
// the Service authority, then extra fields, then optional DATA frames.
func h2(env Env, path string, extra []rawhttp.Field, data ...string) *rawhttp.H2Request {
	fs := []rawhttp.Field{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"}, {Name: ":authority", Value: env.Host}, {Name: ":path", Value: path}}
	if len(data) > 0 {
		fs[0].Value = "POST"
	}
	return &rawhttp.H2Request{Fields: append(fs, extra...), Data: data}
}

func f(name, value string) rawhttp.Field { return rawhttp.Field{Name: name, Value: value} }

func h2Side(r *rawhttp.H2Request, o Outcome) Side { return Side{H2Raw: r, Want: o} }

// h2Cases are W7 (and W4/W5 where HTTP/2 has its own form): what must not
// survive translation to the HTTP/1.1 upstream. RFC 9113 §8.2.2
// (connection-specific fields, TE other than "trailers"), §8.2.1 (upper-case
// names, CR/LF/NUL), §8.3 (pseudo-headers: exactly once, first, known;
// :path origin-form), §8.1.1 (content-length vs DATA) all make the request
// malformed: a stream error PROTOCOL_ERROR. Envoy: nghttp2/oghttp2 in
// source/common/http/http2/codec_impl.cc and the default header validator
// (source/extensions/http/header_validators/envoy_default/http2_header_validator.cc)
// reset the stream; Go's h2 server does the same before our handler runs,
// and the test asserts the reset the client sees on the wire.
func h2Cases(env Env) []Case {
	rst := Outcome{Refusal: "rst_stream:PROTOCOL_ERROR"}
	okTwin := h2Side(h2(env, "/anything", []rawhttp.Field{f("te", "trailers")}), served("/anything"))
	// Connection-specific fields: Envoy resets the stream; Go's h2 server
	// (checkValidHTTP2RequestHeaders) answers 400 itself before any handler
	// runs. Either way nothing is forwarded; the suite asserts Go's 400.
	conn := func(name, value string) Case {
		return Case{ID: "W7", Family: FamilyH2, Name: "connection-specific " + name, Attack: h2Side(h2(env, "/anything", []rawhttp.Field{f(name, value)}), status(400)), Twin: okTwin}
	}
	body := "hello"
	cl := func(n int) []rawhttp.Field { return []rawhttp.Field{f("content-length", strconv.Itoa(n))} }
	return []Case{
		conn("connection", "keep-alive"),
		conn("transfer-encoding", "chunked"),
		conn("keep-alive", "timeout=5"),
		conn("upgrade", "websocket"),
		conn("proxy-connection", "keep-alive"),
		conn("te", "gzip"),
		{ID: "W7", Family: FamilyH2, Name: "CRLF in header value", Attack: h2Side(h2(env, "/anything", []rawhttp.Field{f("x-a", "ok\r\nx-user: mallory")}), rst), Twin: h2Side(h2(env, "/anything", []rawhttp.Field{f("x-a", "ok")}), served("/anything"))},
		// RFC 9113 §8.2.1: a value must not start or end with SP or HTAB.
		// Go's h2 server passes " mallory" through; an HTTP/1 backend trims
		// it to "mallory", so matching the untrimmed value would let it past
		// the x-user DENY. Envoy resets the stream
		// (nghttp2_check_header_value_rfc9113); the engine answers 400.
		{ID: "W7", Family: FamilyH2, Name: "leading whitespace in header value", Attack: h2Side(h2(env, "/anything", []rawhttp.Field{f("x-user", " mallory")}), status(400)),
			Twin: h2Side(h2(env, "/anything", []rawhttp.Field{f("x-user", "alice")}), served("/anything"))},
		{ID: "W7", Family: FamilyH2, Name: "trailing tab in header value", Attack: h2Side(h2(env, "/anything", []rawhttp.Field{f("x-user", "mallory\t")}), status(400)),
			Twin: h2Side(h2(env, "/anything", []rawhttp.Field{f("x-user", "al\tice")}), served("/anything"))},
		{ID: "W7", Family: FamilyH2, Name: "LF in :path", Attack: h2Side(h2(env, "/anything\nx-user: mallory", nil), rst), Twin: okTwin},
		{ID: "W7", Family: FamilyH2, Name: "NUL in :authority", Attack: h2Side(&rawhttp.H2Request{Fields: []rawhttp.Field{f(":method", "GET"), f(":scheme", "http"), f(":authority", "allowed.example.com\x00.blocked.example.com"), f(":path", "/anything")}}, rst), Twin: okTwin},
		{ID: "W7", Family: FamilyH2, Name: "upper-case header name", Attack: h2Side(h2(env, "/anything", []rawhttp.Field{f("X-User", "mallory")}), rst), Twin: h2Side(h2(env, "/anything", []rawhttp.Field{f("x-user", "alice")}), served("/anything"))},
		{ID: "W7", Family: FamilyH2, Name: ":path without leading slash", Attack: h2Side(h2(env, "admin", nil), rst), Twin: okTwin},
		// "*" is only meaningful for OPTIONS (RFC 9113 §8.3.1); the waypoint
		// serves no server-wide OPTIONS, so it is 400 (stricter than Envoy,
		// which forwards OPTIONS *).
		{ID: "W7", Family: FamilyH2, Name: "asterisk :path on GET", Attack: h2Side(h2(env, "*", nil), status(400)), Twin: okTwin},
		// A CONNECT inside the HBONE stream would open a tunnel past L7
		// policy; the engine refuses it (reliability H1), and extended CONNECT
		// (:protocol, RFC 8441) is off in Go's server, as in Envoy by default.
		{ID: "W7", Family: FamilyH2, Name: "CONNECT inside the stream", Attack: h2Side(&rawhttp.H2Request{Fields: []rawhttp.Field{f(":method", "CONNECT"), f(":authority", "10.0.0.1:80")}}, status(400)), Twin: okTwin},
		{ID: "W7", Family: FamilyH2, Name: "extended CONNECT", Attack: h2Side(&rawhttp.H2Request{Fields: []rawhttp.Field{f(":method", "CONNECT"), f(":protocol", "websocket"), f(":scheme", "http"), f(":authority", env.Host), f(":path", "/admin")}}, rst), Twin: okTwin},
		{ID: "W7", Family: FamilyH2, Name: "duplicate :path", Attack: h2Side(h2(env, "/anything", []rawhttp.Field{f(":path", "/admin")}), rst), Twin: okTwin},
		{ID: "W7", Family: FamilyH2, Name: "pseudo-header after a regular field", Attack: h2Side(&rawhttp.H2Request{Fields: []rawhttp.Field{f(":method", "GET"), f(":scheme", "http"), f(":authority", env.Host), f("x-a", "b"), f(":path", "/admin")}}, rst), Twin: okTwin},
		{ID: "W7", Family: FamilyH2, Name: "unknown pseudo-header", Attack: h2Side(h2(env, "/anything", []rawhttp.Field{f(":x-path", "/admin")}), rst), Twin: okTwin},
		{ID: "W7", Family: FamilyH2, Name: "missing :path", Attack: h2Side(&rawhttp.H2Request{Fields: []rawhttp.Field{f(":method", "GET"), f(":scheme", "http"), f(":authority", env.Host)}}, rst), Twin: okTwin},
		{ID: "W7", Family: FamilyH2, Name: "content-length below DATA", Attack: h2Side(h2(env, "/anything", cl(len(body)-2), body), Outcome{Refusal: "rst_stream:PROTOCOL_ERROR", Aborted: []string{"/anything"}}), Twin: h2Side(h2(env, "/anything", cl(len(body)), body), served("/anything"))},
		// A body that ends before its content-length: Go's server hands the
		// handler a body that fails at END_STREAM; the forwarder's upstream
		// write fails, so the backend never gets a complete request and the
		// client gets 503 (Envoy resets the stream instead).
		{ID: "W7", Family: FamilyH2, Name: "content-length above DATA", Attack: h2Side(h2(env, "/anything", cl(len(body)+20), body), Outcome{Statuses: []int{503}, Aborted: []string{"/anything"}}), Twin: h2Side(h2(env, "/anything", cl(len(body)), body), served("/anything"))},
		// W4: RFC 9113 §8.3.1 — a Host differing from :authority is malformed;
		// one authority is used for routing and authorization.
		{ID: "W4", Family: FamilyH2, Name: ":authority vs host mismatch", Attack: h2Side(&rawhttp.H2Request{Fields: []rawhttp.Field{f(":method", "GET"), f(":scheme", "http"), f(":authority", "allowed.example.com"), f(":path", "/anything"), f("host", "blocked.example.com")}}, rst),
			Twin: h2Side(&rawhttp.H2Request{Fields: []rawhttp.Field{f(":method", "GET"), f(":scheme", "http"), f(":authority", "allowed.example.com"), f(":path", "/anything"), f("host", "allowed.example.com")}}, served("/anything"))},
		{ID: "W4", Family: FamilyH2, Name: "host header without :authority", Attack: h2Side(&rawhttp.H2Request{Fields: []rawhttp.Field{f(":method", "GET"), f(":scheme", "http"), f(":path", "/anything"), f("host", "blocked.example.com")}}, status(403)),
			Twin: h2Side(&rawhttp.H2Request{Fields: []rawhttp.Field{f(":method", "GET"), f(":scheme", "http"), f(":path", "/anything"), f("host", "allowed.example.com")}}, served("/anything"))},
		// W5: a header split across fields is matched value by value; split
		// cookies are joined with "; " (RFC 9113 §8.2.3) before matching, as
		// Envoy's codec does, and reach HTTP/1 as one Cookie line.
		{ID: "W5", Family: FamilyH2, Name: "header value split across fields", Attack: h2Side(h2(env, "/anything", []rawhttp.Field{f("x-user", "alice"), f("x-user", "mallory")}), status(403)),
			Twin: h2Side(h2(env, "/anything", []rawhttp.Field{f("x-user", "alice"), f("x-user", "bob")}), served("/anything"))},
		{ID: "W5", Family: FamilyH2, Name: "cookie split across fields", Attack: h2Side(h2(env, "/anything", []rawhttp.Field{f("cookie", "session=1"), f("cookie", "role=admin")}), status(403)),
			Twin: h2Side(h2(env, "/anything", []rawhttp.Field{f("cookie", "session=1"), f("cookie", "role=user")}), served("/anything"))},
	}
}

// jwtCases are W10 (RFC 8725 classes; ambient-semantics §8): an invalid token
// is 401; no token where a request principal is required is 403.
func jwtCases(env Env) []Case {
	t := env.Tokens
	bearer := func(tok string) string { return "Authorization: Bearer " + tok }
	alice := side(get(env, "/anything/jwt/data", bearer(t.Alice)), served("/anything/jwt/data"))
	unauth := func(r *Request) Side { return side(r, status(401)) }
	return []Case{
		{ID: "W10", Family: FamilyJWT, Name: "no token where required", Attack: side(get(env, "/anything/jwt/data"), status(403)), Twin: alice},
		{ID: "W10", Family: FamilyJWT, Name: "disallowed subject", Attack: side(get(env, "/anything/jwt/data", bearer(t.Bob)), status(403)), Twin: alice},
		{ID: "W10", Family: FamilyJWT, Name: "expired token", Attack: unauth(get(env, "/anything/jwt/data", bearer(t.Expired))), Twin: alice},
		{ID: "W10", Family: FamilyJWT, Name: "unknown issuer", Attack: unauth(get(env, "/anything/jwt/data", bearer(t.Stranger))), Twin: alice},
		{ID: "W10", Family: FamilyJWT, Name: "alg none", Attack: unauth(get(env, "/anything/jwt/data", bearer(AlgNone))), Twin: alice},
		{ID: "W10", Family: FamilyJWT, Name: "HS256 key confusion", Attack: unauth(get(env, "/anything/jwt/data", bearer(t.HS256))), Twin: alice},
		{ID: "W10", Family: FamilyJWT, Name: "forged signature", Attack: unauth(get(env, "/anything/jwt/data", bearer(t.Forged))), Twin: alice},
		{ID: "W10", Family: FamilyJWT, Name: "ambiguous placement", Attack: unauth(get(env, "/anything/jwt/data?access_token="+t.Alice, bearer(t.Alice))),
			Twin: side(get(env, "/anything/jwt/data?access_token="+t.Alice), served("/anything/jwt/data?access_token="+t.Alice))},
		{ID: "W10", Family: FamilyJWT, Name: "two Authorization headers", Attack: unauth(get(env, "/anything/jwt/data", bearer(t.Alice), bearer(t.Bob))), Twin: alice},
		{ID: "W10", Family: FamilyJWT, Name: "excluded path traversal", Attack: Side{Req: get(env, "/anything/jwt/public/../data"), Want: status(403)}, Twin: side(get(env, "/anything/jwt/public"), served("/anything/jwt/public"))},
		{ID: "W10", Family: FamilyJWT, Name: "invalid token on excluded path", Attack: unauth(get(env, "/anything/jwt/public", bearer(t.Expired))), Twin: side(get(env, "/anything/jwt/public"), served("/anything/jwt/public"))},
	}
}
