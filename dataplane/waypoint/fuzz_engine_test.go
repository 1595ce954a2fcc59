package waypoint_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/pathnorm"
	"github.com/ambientlab/ambientlab/internal/attacks"
)

// FuzzEngine feeds arbitrary HTTP/1 requests (parsed by Go's own request
// parser, as the server does) through the whole chain under each mode. It
// checks the engine's central promise and its header parsers:
//   - what authorization evaluated is exactly what was forwarded (target and
//     host), and the forwarded target is a fixed point of Normalize;
//   - a path the fixture DENYs is never forwarded;
//   - the forwarded headers carry no client-supplied internal header, the
//     mesh's X-Forwarded-For, a lower-case valid host, and no control bytes;
//   - every outcome is one of the oracle's statuses.
func FuzzEngine(f *testing.F) {
	env := attacks.Env{Host: host, Tokens: attacks.Tokens{Alice: "a.b.c"}}
	for _, c := range attacks.Corpus(env) {
		for _, s := range []attacks.Side{c.Attack, c.Twin} {
			if s.Req == nil && s.H1Raw == "" || len(s.H1Raw) > 4096 {
				continue
			}
			raw, _ := s.H1Bytes(attacks.ModeDecodeAndMergeSlashes)
			f.Add([]byte(raw), uint8(3))
		}
	}
	engines := map[pathnorm.Mode]*engineProbe{}
	for _, m := range pathnorm.Modes() {
		engines[m] = newEngineProbe(f, m)
	}
	f.Fuzz(func(t *testing.T, raw []byte, modeByte uint8) {
		mode := pathnorm.Modes()[modeByte%4]
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(raw))))
		if err != nil {
			return // Go's server answers 400 before any handler
		}
		e := engines[mode]
		e.reset()
		rec := httptest.NewRecorder()
		peer := waypoint.Peer{SourceIP: netip.MustParseAddr("198.18.0.7"), Identity: clientID, DestinationIP: svcVIP, DestPort: 8000}
		e.wp.ServeHTTP(rec, r.WithContext(waypoint.WithPeer(r.Context(), peer)))
		switch rec.Code {
		case 200, 400, 401, 403, 503:
		default:
			t.Fatalf("status %d for %q", rec.Code, raw)
		}
		up := e.upstream.take()
		if len(up) == 0 {
			return
		}
		// A request whose body fails mid-way (truncated body) reaches the
		// upstream as an aborted one and the client gets 503; it must still
		// be exactly the authorized request.
		if len(up) != 1 || rec.Code != 200 && !(rec.Code == 503 && up[0].Aborted) {
			t.Fatalf("upstream saw %d requests (aborted %v), client got %d", len(up), up[0].Aborted, rec.Code)
		}
		got, authzTarget, authzHost := up[0], e.target, e.host
		if got.Target != authzTarget || got.Host != authzHost {
			t.Fatalf("authorized %q on %q but forwarded %q on %q", authzTarget, authzHost, got.Target, got.Host)
		}
		if again, err := pathnorm.Normalize(got.Target, mode); err != nil || again != got.Target {
			t.Fatalf("forwarded target %q is not normalized under %v: %q %v", got.Target, mode, again, err)
		}
		if p, _ := pathnorm.SplitQuery(got.Target); attacks.DeniedPath(p) {
			t.Fatalf("denied path %q forwarded", p)
		}
		if got.Host != strings.ToLower(got.Host) || strings.ContainsAny(got.Host, "@ \t/\\") {
			t.Fatalf("forwarded host %q", got.Host)
		}
		for name, vs := range got.Header {
			ln := strings.ToLower(name)
			if strings.HasPrefix(ln, "x-envoy-") || strings.HasPrefix(ln, "x-istio-") || ln == "connection" || ln == "transfer-encoding" {
				t.Fatalf("forwarded %s: %q", name, vs)
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n\x00") {
					t.Fatalf("control byte forwarded in %s: %q", name, v)
				}
			}
		}
		if xff := got.Header.Values("X-Forwarded-For"); len(xff) != 1 || xff[0] != "198.18.0.7" {
			t.Fatalf("x-forwarded-for %q", xff)
		}
	})
}

// engineProbe is a Waypoint with the fixture policies whose policy lookup
// records what authorization saw.
type engineProbe struct {
	wp           *waypoint.Waypoint
	upstream     *recorder
	mu           sync.Mutex
	target, host string
}

func newEngineProbe(tb testing.TB, mode pathnorm.Mode) *engineProbe {
	e := &engineProbe{upstream: &recorder{}}
	ps := fixturePolicies()
	wp, err := waypoint.New(waypoint.Config{
		Normalization: mode,
		Policies: func(ex *waypoint.Exchange) []*policy.Policy {
			e.mu.Lock()
			e.target, e.host = ex.Target, ex.Host
			e.mu.Unlock()
			return ps
		},
		Upstream:     e.upstream,
		NewRequestID: func() string { return "rid-fuzz" },
	})
	if err != nil {
		tb.Fatal(err)
	}
	e.wp = wp
	return e
}

func (e *engineProbe) reset() {
	e.mu.Lock()
	e.target, e.host = "", ""
	e.mu.Unlock()
	e.upstream.take()
}

// FuzzEngineHeaders builds requests the way Go's HTTP/2 server delivers
// them (lower-case token names, values free of control bytes but otherwise
// untrimmed: httpguts.ValidHeaderFieldValue) and checks what an HTTP/1
// backend would see of the forwarded headers: no value that the backend's
// parser would trim into a denied one ("x-user: mallory", cookie suffix
// "role=admin"), and every forwarded value already in trimmed form.
func FuzzEngineHeaders(f *testing.F) {
	f.Add("x-user", " mallory", "cookie", "a=1")
	f.Add("x-user", "mallory\t", "cookie", "role=admin ")
	f.Add("x-user", "alice", "x-a", "b")
	e := newEngineProbe(f, pathnorm.ModeBase)
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string) {
		h := http.Header{}
		for _, kv := range [][2]string{{n1, v1}, {n2, v2}} {
			if !h2Name(kv[0]) || strings.ContainsFunc(kv[1], func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
				return // Go's h2 server resets such a stream before any handler
			}
			h.Add(http.CanonicalHeaderKey(kv[0]), kv[1])
		}
		r := httptest.NewRequest("GET", "/anything", nil)
		r.Host, r.Header, r.Proto, r.ProtoMajor, r.ProtoMinor = host, h, "HTTP/2.0", 2, 0
		e.reset()
		rec := httptest.NewRecorder()
		peer := waypoint.Peer{SourceIP: netip.MustParseAddr("198.18.0.7"), Identity: clientID, DestinationIP: svcVIP, DestPort: 8000}
		e.wp.ServeHTTP(rec, r.WithContext(waypoint.WithPeer(r.Context(), peer)))
		for _, got := range e.upstream.take() {
			for name, vs := range got.Header {
				for _, v := range vs {
					trimmed := strings.Trim(v, " \t")
					if trimmed != v {
						t.Fatalf("forwarded %s: %q, which an HTTP/1 backend reads as %q", name, v, trimmed)
					}
					if name == "X-User" && trimmed == "mallory" || name == "Cookie" && strings.HasSuffix(trimmed, "role=admin") {
						t.Fatalf("denied header %s: %q forwarded", name, v)
					}
				}
			}
		}
	})
}

// h2Name: what Go's h2 server accepts as a regular field name (lower-case
// token, not pseudo, not connection-specific).
func h2Name(n string) bool {
	if n == "" || strings.ContainsFunc(n, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r))
	}) {
		return false
	}
	switch n {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host", "content-length":
		return false
	}
	return true
}
