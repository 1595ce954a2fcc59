package attacks

import (
	"strings"
)

// rejected in a norms table means the mode answers the target with 400.
const rejected = "<400>"

// norms is the hand-written normalized target per mode, in Modes()
// order: NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES. The
// expectations follow istio.io "Security best practices" › "Understand path
// normalization in authorization policy" and Envoy's path_utility.cc
// (canonicalPath, mergeSlashes, unescapeSlashes) as applied by
// conn_manager_utility.cc maybeNormalizePath: NONE forwards the path as
// received, BASE decodes unreserved escapes, turns "\" into "/" and removes
// dot segments, MERGE_SLASHES also merges "//", DECODE_AND_MERGE_SLASHES also
// decodes %2F and %5C first. Where a mode does not fold an encoding, the
// DENY does not fire and the upstream receives the unfolded path: that is the
// documented behaviour of the mode (Istio recommends DECODE_AND_MERGE_SLASHES
// with DENY policies), recorded as such, not as a bypass.
type norms [4]string

func same(p string) norms { return norms{p, p, p, p} }

// DeniedPath is the fixture's path DENY: exact /admin, prefix /admin/,
// exact /private (Istio `paths: ["/admin", "/admin/*", "/private"]`).
func DeniedPath(p string) bool {
	return p == "/admin" || strings.HasPrefix(p, "/admin/") || p == "/private"
}

// outcomeFor is the fixture's answer to a request whose target normalized to p.
func outcomeFor(p string) Outcome {
	switch path, _, _ := strings.Cut(p, "?"); {
	case p == rejected:
		return Outcome{Statuses: []int{400}}
	case DeniedPath(path):
		return Outcome{Statuses: []int{403}}
	}
	return Outcome{Statuses: []int{200}, Seen: []string{p}}
}

// pathSide is a GET of target whose outcome per mode follows from n.
func pathSide(env Env, target string, n norms) Side {
	s := Side{Req: get(env, target), ByMode: map[Mode]Outcome{}}
	for i, m := range Modes() {
		s.ByMode[m] = outcomeFor(n[i])
	}
	return s
}

// documentedPassthrough reports whether the attack's outcome in mode m is a
// 200 because the mode does not fold its encoding (see norms).
func (c Case) DocumentedPassthrough(p Proto, m Mode) bool {
	o := c.Attack.Expect(p, m)
	return len(o.Statuses) == 1 && o.Statuses[0] == 200 && c.Family == FamilyPath
}

// pathCases are W1: separators, dot segments, escapes, double encoding.
// Every twin applies the same trick to an allowed path.
func pathCases(env Env) []Case {
	type pc struct {
		name           string
		attack, twin   string
		attackN, twinN norms
	}
	list := []pc{
		{"doubled slash", "//admin", "//anything", norms{"//admin", "//admin", "/admin", "/admin"}, norms{"//anything", "//anything", "/anything", "/anything"}},
		{"dot segment", "/./admin", "/./anything", norms{"/./admin", "/admin", "/admin", "/admin"}, norms{"/./anything", "/anything", "/anything", "/anything"}},
		{"dot-dot segment", "/x/../admin", "/x/../anything", norms{"/x/../admin", "/admin", "/admin", "/admin"}, norms{"/x/../anything", "/anything", "/anything", "/anything"}},
		{"dot-dot above root", "/../../admin/x", "/../../anything/x", norms{"/../../admin/x", "/admin/x", "/admin/x", "/admin/x"}, norms{"/../../anything/x", "/anything/x", "/anything/x", "/anything/x"}},
		{"encoded unreserved", "/%61dmin", "/%61nything", norms{"/%61dmin", "/admin", "/admin", "/admin"}, norms{"/%61nything", "/anything", "/anything", "/anything"}},
		{"encoded dots", "/x/%2e%2E/admin", "/x/%2e%2E/anything", norms{"/x/%2e%2E/admin", "/admin", "/admin", "/admin"}, norms{"/x/%2e%2E/anything", "/anything", "/anything", "/anything"}},
		{"encoded slash", "/admin%2Fsecret", "/anything%2Fx", norms{"/admin%2Fsecret", "/admin%2Fsecret", "/admin%2Fsecret", "/admin/secret"}, norms{"/anything%2Fx", "/anything%2Fx", "/anything%2Fx", "/anything/x"}},
		{"encoded slash traversal", "/x%2F..%2Fadmin", "/x%2f..%2fanything", norms{"/x%2F..%2Fadmin", "/x%2F..%2Fadmin", "/x%2F..%2Fadmin", "/admin"}, norms{"/x%2f..%2fanything", "/x%2F..%2Fanything", "/x%2F..%2Fanything", "/anything"}},
		{"backslash traversal", `/x\..\admin`, `/x\..\anything`, norms{rejected, "/admin", "/admin", "/admin"}, norms{rejected, "/anything", "/anything", "/anything"}},
		{"encoded backslash", "/x%5C..%5Cadmin", "/x%5c..%5canything", norms{"/x%5C..%5Cadmin", "/x%5C..%5Cadmin", "/x%5C..%5Cadmin", "/admin"}, norms{"/x%5c..%5canything", "/x%5C..%5Canything", "/x%5C..%5Canything", "/anything"}},
		{"encoded leading slash", "/%2F/admin/x", "/%2F/anything/x", norms{"/%2F/admin/x", "/%2F/admin/x", "/%2F/admin/x", "/admin/x"}, norms{"/%2F/anything/x", "/%2F/anything/x", "/%2F/anything/x", "/anything/x"}},
		{"mixed slashes", "///admin//x", "///anything//x", norms{"///admin//x", "///admin//x", "/admin/x", "/admin/x"}, norms{"///anything//x", "///anything//x", "/anything/x", "/anything/x"}},
		{"trailing dot segment", "/admin/x/.", "/anything/x/.", norms{"/admin/x/.", "/admin/x/", "/admin/x/", "/admin/x/"}, norms{"/anything/x/.", "/anything/x/", "/anything/x/", "/anything/x/"}},
		// Each escape is decoded at most once (Envoy never double-decodes):
		// "%2561" stays "%2561", so the upstream gets the literal bytes.
		{"double encoding", "/%2561dmin/x", "/%2561nything/x", same("/%2561dmin/x"), same("/%2561nything/x")},
		{"double-encoded dot-dot", "/x/%252e%252e/admin", "/x/%252e%252e/anything", same("/x/%252e%252e/admin"), same("/x/%252e%252e/anything")},
		{"matrix parameter segment", "/admin/;x=y/secret", "/anything/;x=y/secret", same("/admin/;x=y/secret"), same("/anything/;x=y/secret")},
		{"dot-dot into deny prefix", "/anything/../admin/x", "/anything/../anything/x", norms{"/anything/../admin/x", "/admin/x", "/admin/x", "/admin/x"}, norms{"/anything/../anything/x", "/anything/x", "/anything/x", "/anything/x"}},
		{"encoded unreserved in deny", "/priv%61te", "/anything/priv%61te", norms{"/priv%61te", "/private", "/private", "/private"}, norms{"/anything/priv%61te", "/anything/private", "/anything/private", "/anything/private"}},
	}
	var out []Case
	for _, p := range list {
		twin := pathSide(env, p.twin, p.twinN)
		// A twin the mode rejects by design (NONE refuses backslashes) is
		// replaced, in that mode only, by its plain normalized form, so every
		// mode still proves the route serves legitimate requests.
		for i, m := range Modes() {
			if p.twinN[i] == rejected {
				canonical := p.twinN[len(p.twinN)-1]
				twin.ReqByMode = map[Mode]*Request{m: get(env, canonical)}
				twin.ByMode[m] = outcomeFor(canonical)
			}
		}
		out = append(out, Case{ID: "W1", Family: FamilyPath, Name: p.name, Attack: pathSide(env, p.attack, p.attackN), Twin: twin})
	}
	return out
}
