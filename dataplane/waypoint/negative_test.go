package waypoint_test

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn/jwttest"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/pathnorm"
	"github.com/ambientlab/ambientlab/internal/attacks"
	"github.com/ambientlab/ambientlab/internal/rawhttp"
)

const host = "httpbin.apps.svc.cluster.local:8000"

// corpusEnv is the shared corpus bound to this fixture's issuer.
func corpusEnv(f *fixture) attacks.Env {
	stranger := jwttest.NewIssuer("https://stranger.example", "s1")
	return attacks.Env{Host: host, Tokens: attacks.Tokens{
		Alice:    f.token("alice", nil),
		Bob:      f.token("bob", nil),
		Expired:  f.token("alice", map[string]any{"exp": testNow.Add(-time.Hour).Unix()}),
		Stranger: stranger.Sign(stranger.Claims("alice", testNow, nil)),
		HS256:    jwttest.SignWith(jose.HS256, []byte(f.iss.JWKS()), "k1", f.iss.Claims("alice", testNow, nil)),
		Forged:   jwttest.NewIssuer(issuerName, "k1").Sign(f.iss.Claims("alice", testNow, nil)),
	}}
}

// wmode names a pathnorm mode the way the shared corpus does (meshConfig).
func wmode(m pathnorm.Mode) attacks.Mode { return attacks.Mode(m.String()) }

// twinChecks inspect what the upstream received for a twin (header
// rewriting), by case name.
var twinChecks = map[string]func(t *testing.T, s []seen){
	"x-forwarded-for spoof": func(t *testing.T, s []seen) {
		if got := s[0].Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
			t.Errorf("x-forwarded-for forwarded as %q", got)
		}
	},
	"forged XFCC and envoy/istio headers": func(t *testing.T, s []seen) {
		h := s[0].Header
		if h.Get("X-Forwarded-Client-Cert") != "URI="+clientID.String() || h.Get("X-Envoy-Original-Path") != "" ||
			h.Get("X-Istio-Attributes") != "" || h.Get("X-Ambientlab-Peer") != "" || h.Get("X-Request-Id") != "rid-1" {
			t.Errorf("internal headers leaked or not set: %v", h)
		}
	},
	"Connection-nominated header": func(t *testing.T, s []seen) {
		if s[0].Header.Get("X-User") != "" {
			t.Error("hop-by-hop header forwarded")
		}
	},
	"no token where required": func(t *testing.T, s []seen) {
		if s[0].Header.Get("Authorization") != "" {
			t.Error("token forwarded without forwardOriginalToken")
		}
	},
	"cookie split across fields": func(t *testing.T, s []seen) {
		if got := s[0].Header.Values("Cookie"); len(got) != 1 || got[0] != "session=1; role=user" {
			t.Errorf("split cookies reached HTTP/1 as %q, want one joined line", got)
		}
	},
	"obs-fold hides a denied value": func(t *testing.T, s []seen) {
		if got := s[0].Header.Values("X-User"); len(got) != 1 || got[0] != "alice" {
			t.Errorf("folded header forwarded as %q, want the value authz matched", got)
		}
	},
	"connection-specific te": func(t *testing.T, s []seen) {
		if got := s[0].Header.Values("Te"); len(got) != 0 {
			t.Errorf("te forwarded to HTTP/1: %q", got)
		}
	},
}

// send runs one side over p against f and returns the wire result and the
// targets the upstream received.
func send(t *testing.T, f *fixture, s attacks.Side, p attacks.Proto, m pathnorm.Mode) (rawhttp.Result, []seen) {
	t.Helper()
	addr := f.srv.Listener.Addr().String()
	if p == attacks.H2 {
		addr = f.h2c.Addr().String()
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var res rawhttp.Result
	if p == attacks.H1 {
		raw, n := s.H1Bytes(wmode(m))
		res = rawhttp.DoH1(ctx, c, []byte(raw), n)
	} else {
		res = rawhttp.DoH2(ctx, c, s.H2Request(wmode(m)))
	}
	c.Close()
	if p == attacks.H2 && res.Refusal != "" || f.inflight.Load() != 0 {
		f.settle()
	}
	return res, f.upstream.take()
}

// targets is what the upstream served completely.
func targets(s []seen) []string {
	out := []string{}
	for _, r := range s {
		if !r.Aborted {
			out = append(out, r.Target)
		}
	}
	return out
}

// checkAborted checks the requests whose body failed are among o.Aborted.
func checkAborted(o attacks.Outcome, s []seen) string {
	allowed := map[string]int{}
	for _, t := range o.Aborted {
		allowed[t]++
	}
	for _, r := range s {
		if r.Aborted {
			if allowed[r.Target] == 0 {
				return fmt.Sprintf("upstream saw an aborted request for %q, want at most %q", r.Target, o.Aborted)
			}
			allowed[r.Target]--
		}
	}
	return ""
}

// TestNegativeSuite drives every attack of the shared corpus and its positive
// twin through the full chain, over real HTTP/1.1 connections and HTTP/2
// (h2c) streams, under each of Istio's four path normalization modes: 0
// bypasses (every attack gets exactly its refusal and the upstream receives
// nothing else), 0 false denies (every twin is served and the upstream
// receives exactly the normalized target). Refusals Go's servers make before
// the handler runs are asserted as the client sees them on the wire.
func TestNegativeSuite(t *testing.T) {
	type cell struct{ family, proto, mode string }
	counts := map[cell]int{}
	bypasses, falseDenies, documented, runs := 0, 0, 0, 0
	distinct := map[string]bool{}
	for _, mode := range pathnorm.Modes() {
		f := newFixture(t, mode)
		for _, c := range attacks.Corpus(corpusEnv(f)) {
			for _, p := range attacks.Protos() {
				if !c.Applies(p) {
					continue
				}
				runs++
				distinct[c.Key()+"/"+string(p)] = true
				counts[cell{c.Family, string(p), mode.String()}]++
				got, up := send(t, f, c.Attack, p, mode)
				want := c.Attack.Expect(p, wmode(mode))
				if msg := want.Check(got, targets(up)) + checkAborted(want, up); msg != "" {
					bypasses++
					t.Errorf("BYPASS %s [%s %s] attack: %s", c.Key(), p, mode, msg)
				}
				if c.DocumentedPassthrough(p, wmode(mode)) {
					documented++
				}
				got, up = send(t, f, c.Twin, p, mode)
				want = c.Twin.Expect(p, wmode(mode))
				if msg := want.Check(got, targets(up)) + checkAborted(want, up); msg != "" {
					falseDenies++
					t.Errorf("FALSE DENY %s [%s %s] twin: %s", c.Key(), p, mode, msg)
				} else if chk := twinChecks[c.Name]; chk != nil && len(up) > 0 {
					chk(t, up)
				}
			}
		}
	}
	if len(distinct) < 80 {
		t.Errorf("only %d distinct attack×protocol cases", len(distinct))
	}
	t.Logf("%d attack/twin runs (%d distinct attacks × protocol): %d bypasses, %d false denies, %d documented mode passthroughs\n%s",
		runs, len(distinct), bypasses, falseDenies, documented, countTable(counts))
}

func countTable[K comparable](counts map[K]int) string {
	var lines []string
	for k, n := range counts {
		lines = append(lines, fmt.Sprintf("  %v: %d", k, n))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
