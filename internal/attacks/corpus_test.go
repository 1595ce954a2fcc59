package attacks

import (
	"strings"
	"testing"
)

// The corpus is well formed: unique keys, both sides sendable over every
// protocol the case claims, every twin a positive (served, in every mode and
// protocol), and at least 40 distinct attacks per protocol (issue 5).
func TestCorpusShape(t *testing.T) {
	env := Env{Host: "h.example:8000", Tokens: Tokens{Alice: "a", Bob: "b", Expired: "e", Stranger: "s", HS256: "h", Forged: "f"}}
	cases := Corpus(env)
	keys := map[string]bool{}
	perProto := map[Proto]int{}
	for _, c := range cases {
		if keys[c.Key()] {
			t.Errorf("duplicate case %s", c.Key())
		}
		keys[c.Key()] = true
		applies := false
		for _, p := range Protos() {
			if !c.Applies(p) {
				continue
			}
			applies = true
			perProto[p]++
			for _, m := range Modes() {
				tw := c.Twin.Expect(p, m)
				if len(tw.Statuses) == 0 || tw.Statuses[len(tw.Statuses)-1] != 200 || tw.Refusal != "" || len(tw.Seen) == 0 {
					t.Errorf("%s [%s %s]: twin is not a positive: %+v", c.Key(), p, m, tw)
				}
				at := c.Attack.Expect(p, m)
				if at.Refusal == "" && len(at.Statuses) == 0 {
					t.Errorf("%s [%s %s]: attack has no expectation", c.Key(), p, m)
				}
			}
		}
		if !applies {
			t.Errorf("%s applies to no protocol", c.Key())
		}
	}
	for _, p := range Protos() {
		if perProto[p] < 40 {
			t.Errorf("%s: only %d attacks", p, perProto[p])
		}
	}
}

// Under DECODE_AND_MERGE_SLASHES, the mode Istio recommends with DENY
// policies, no path attack on a denied path is served.
func TestPathAttacksRefusedUnderDecodeAndMerge(t *testing.T) {
	for _, c := range pathCases(Env{Host: "h:1"}) {
		o := c.Attack.Expect(H1, ModeDecodeAndMergeSlashes)
		served := len(o.Statuses) == 1 && o.Statuses[0] == 200
		if served && DeniedPath(strings.SplitN(o.Seen[0], "?", 2)[0]) {
			t.Errorf("%s: denied path served", c.Name)
		}
		if served && !strings.Contains(c.Name, "double") && !strings.Contains(c.Name, "matrix") {
			t.Errorf("%s: served under DECODE_AND_MERGE_SLASHES (%v)", c.Name, o.Seen)
		}
	}
}

func TestRender(t *testing.T) {
	s := Side{Req: &Request{Method: "POST", Target: "/a", Host: "h", Body: "xyz"}}
	raw, n := s.H1Bytes(ModeBase)
	if raw != "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz" || n != 1 {
		t.Errorf("h1: %q %d", raw, n)
	}
	h2 := Side{Req: &Request{Method: "GET", Target: "/a", Host: "h", Header: nil}}.H2Request(ModeBase)
	if len(h2.Fields) != 4 || h2.Fields[2].Value != "h" || h2.Fields[3].Value != "/a" || len(h2.Data) != 0 {
		t.Errorf("h2: %+v", h2)
	}
}
