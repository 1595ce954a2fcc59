package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ambientlab/ambientlab/internal/attacks"
	"github.com/ambientlab/ambientlab/internal/rawhttp"
	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
	"github.com/ambientlab/ambientlab/sim/cluster"
	"github.com/ambientlab/ambientlab/sim/workload/probe"
)

// The waypoint negative suite (issue 5; reliability W1–W10): every attack of
// the shared corpus (dataplane/waypoint/attacks) and its positive twin, sent
// black-box by the per-pod probe (`probe --raw`) from a captured client pod,
// through ztunnel and HBONE, to a deployed waypoint in front of the echo
// backend. Each attack and each twin is one reported test; an attack that
// does not get its refusal is a bypass, a twin that is not served a false deny.

const (
	negNamespace = "apps"
	negClient    = "clients/deploy/curl"
	negBackend   = negNamespace + "/deploy/httpbin"
	negAuthority = "httpbin.apps.svc.cluster.local:8000"
	negIssuer    = "https://issuer.example"
	// NegativeProfile is the profile the negative suite reports under.
	NegativeProfile = "AMBIENT-L7"
	// Features marking the negative suite's results (reports count them).
	FeatureNegativeAttack = v1.FeatureNegativeAttack
	FeatureNegativeTwin   = v1.FeatureNegativeTwin
)

// negDeployedMode is the path normalization the deployed waypoint applies:
// meshConfig.pathNormalization unset, i.e. Istio's default BASE. The library
// suite (dataplane/waypoint TestNegativeSuite) covers all four modes.
var negDeployedMode = attacks.ModeBase

// negativeManifest is the corpus fixture (attacks package doc) as Kubernetes
// and Istio objects, the policies bound to the waypoint by targetRefs.
func negativeManifest(jwks string) string {
	return strings.ReplaceAll(negativeManifestTemplate, "$JWKS", jwks)
}

const negativeManifestTemplate = `apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: {istio.io/dataplane-mode: ambient, istio.io/use-waypoint: waypoint}}
---
apiVersion: v1
kind: Namespace
metadata: {name: clients, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: curl, namespace: clients}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: httpbin, namespace: apps}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin, namespace: apps}
spec:
  replicas: 1
  selector: {matchLabels: {app: httpbin}}
  template:
    metadata: {labels: {app: httpbin}}
    spec:
      serviceAccountName: httpbin
      containers: [{name: httpbin, image: docker.io/kennethreitz/httpbin, ports: [{name: http, containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: apps}
spec:
  selector: {app: httpbin}
  ports: [{name: http, port: 8000, targetPort: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: curl, namespace: clients}
spec:
  replicas: 1
  selector: {matchLabels: {app: curl}}
  template:
    metadata: {labels: {app: curl}}
    spec:
      serviceAccountName: curl
      containers: [{name: curl, image: curlimages/curl, command: ["/bin/sleep", "infinity"]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: apps, labels: {istio.io/waypoint-for: service}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: apps}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  jwtRules: [{issuer: "https://issuer.example", jwks: '$JWKS'}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: apps}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules:
  - to: [{operation: {paths: [/admin, /admin/*, /private]}}]
  - to: [{operation: {hosts: [blocked.example.com]}}]
  - to: [{operation: {methods: [DELETE]}}]
  - to: [{operation: {paths: [/internal/*]}}]
    from: [{source: {notRemoteIpBlocks: [10.0.0.0/8]}}]
  - when: [{key: "request.headers[x-user]", values: [mallory]}]
  - when: [{key: "request.headers[cookie]", values: ["*role=admin"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow, namespace: apps}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/clients/sa/curl]}}]
    to: [{operation: {notPaths: [/anything/jwt/*]}}]
  - from: [{source: {requestPrincipals: ["https://issuer.example/alice"]}}]
    to: [{operation: {paths: [/anything/jwt/*]}}]
  - to: [{operation: {paths: [/anything/jwt/public]}}]
`

// negativeEnv is the corpus environment with tokens from iss (and from a
// stranger issuer the fixture does not trust).
func negativeEnv(iss *jwtIssuer, now time.Time) (attacks.Env, error) {
	stranger, err := newJWTIssuer("https://stranger.example", "s1")
	if err != nil {
		return attacks.Env{}, err
	}
	impostor, err := newJWTIssuer(negIssuer, iss.kid) // right name and kid, wrong key
	if err != nil {
		return attacks.Env{}, err
	}
	var errs []error
	sign := func(i *jwtIssuer, c map[string]any) string {
		tok, err := i.sign(c)
		errs = append(errs, err)
		return tok
	}
	hs, err := signJWT(jose.HS256, []byte(iss.jwks()), iss.kid, iss.claims("alice", now, nil))
	errs = append(errs, err)
	env := attacks.Env{Host: negAuthority, Tokens: attacks.Tokens{
		Alice:    sign(iss, iss.claims("alice", now, nil)),
		Bob:      sign(iss, iss.claims("bob", now, nil)),
		Expired:  sign(iss, iss.claims("alice", now, map[string]any{"exp": now.Add(-time.Hour).Unix()})),
		Stranger: sign(stranger, stranger.claims("alice", now, nil)),
		HS256:    hs,
		Forged:   sign(impostor, iss.claims("alice", now, nil)),
	}}
	return env, errors.Join(errs...)
}

// negRun is one side of one case over one protocol, as sent and judged.
type negRun struct {
	c     attacks.Case
	proto attacks.Proto
	twin  bool
	req   probe.RawRequest
	want  attacks.Outcome
}

func (r negRun) side() attacks.Side {
	if r.twin {
		return r.c.Twin
	}
	return r.c.Attack
}

// negativeRuns lists every applicable side × protocol under mode.
func negativeRuns(env attacks.Env, mode attacks.Mode) []negRun {
	var out []negRun
	for _, c := range attacks.Corpus(env) {
		for _, p := range attacks.Protos() {
			if !c.Applies(p) {
				continue
			}
			for _, twin := range []bool{false, true} {
				r := negRun{c: c, proto: p, twin: twin}
				s := r.side()
				r.want = s.Expect(p, mode)
				r.req = probe.RawRequest{Addr: negAuthority, Proto: string(p), TimeoutMS: 8000}
				if p == attacks.H1 {
					raw, n := s.H1Bytes(mode)
					r.req.H1, r.req.Responses = []byte(raw), n
				} else {
					h2 := s.H2Request(mode)
					r.req.H2 = &h2
				}
				out = append(out, r)
			}
		}
	}
	return out
}

// execRaw runs `probe --raw` in the client pod with reqs on stdin.
func execRaw(ctx context.Context, c *cluster.Cluster, workloadBin string, reqs []probe.RawRequest) ([]rawhttp.Result, error) {
	dir, err := os.MkdirTemp("", "negative-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in, err := json.Marshal(reqs)
	if err != nil {
		return nil, err
	}
	files := [3]*os.File{}
	for i, name := range []string{"stdin", "stdout", "stderr"} {
		p := filepath.Join(dir, name)
		if i == 0 {
			if err := os.WriteFile(p, in, 0o600); err != nil {
				return nil, err
			}
			files[i], err = os.Open(p)
		} else {
			files[i], err = os.Create(p)
		}
		if err != nil {
			return nil, err
		}
		defer files[i].Close()
	}
	code, err := c.Exec(ctx, cluster.ExecRequest{Target: negClient, Argv: []string{workloadBin, "probe", "--raw"}, Stdio: files}, nil)
	out, _ := os.ReadFile(filepath.Join(dir, "stdout"))
	errOut, _ := os.ReadFile(filepath.Join(dir, "stderr"))
	if err != nil || code != 0 {
		return nil, fmt.Errorf("probe --raw in %s: exit %d, %v: %s", negClient, code, err, errOut)
	}
	var res []rawhttp.Result
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(reqs) {
		return nil, fmt.Errorf("probe --raw printed %d results for %d requests (%v): %.300s", len(res), len(reqs), err, out)
	}
	return res, nil
}

// judge compares one result with its expectation. The upstream's view is
// the echo backend's report of the URL it served (first response only).
func judge(r negRun, got rawhttp.Result) string {
	msg := r.want.Check(got, nil)
	if msg == "" && len(r.want.Seen) > 0 && len(got.Statuses) > 0 && got.Statuses[0] == 200 {
		if served, ok := backendTarget(got.Body); !ok || served != r.want.Seen[0] {
			msg = fmt.Sprintf("backend served %q, want the normalized target %q", served, r.want.Seen[0])
		}
	}
	return msg
}

// backendTarget is the request target the echo backend reports serving:
// httpbin's JSON "url" (http://host + target) on its httpbin paths, Istio
// echo's "URL=<target>" line elsewhere.
func backendTarget(body string) (string, bool) {
	var js struct{ URL string }
	if json.Unmarshal([]byte(body), &js) == nil && js.URL != "" {
		rest, ok := strings.CutPrefix(js.URL, "http://")
		if i := strings.IndexByte(rest, '/'); ok && i >= 0 {
			return rest[i:], true
		}
		return js.URL, false
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "URL="); ok {
			return v, true
		}
	}
	return "", false
}

// negativeName is the report name of a run.
func negativeName(r negRun, mode attacks.Mode) string {
	side := "attack"
	if r.twin {
		side = "twin"
	}
	return fmt.Sprintf("WaypointNegative/%s/%s/%s/%s: %s", r.proto, mode, r.c.ID, r.c.Family, r.c.Name) + " (" + side + ")"
}

// negativeResults turns judged runs into report results. Every run is sent
// once: a refusal that arrives as a reset instead of its status fails the
// run (until hbone kept a response the peer reset after END_STREAM, about
// 2% of HTTP/1 400s with "Connection: close" were lost that way).
func negativeResults(runs []negRun, got []rawhttp.Result, mode attacks.Mode, took time.Duration) []v1.TestResult {
	out := make([]v1.TestResult, 0, len(runs))
	per := v1.Duration(took / time.Duration(max(len(runs), 1)))
	for i, r := range runs {
		feature := FeatureNegativeAttack
		if r.twin {
			feature = FeatureNegativeTwin
		}
		t := v1.TestResult{Name: negativeName(r, mode), Profile: NegativeProfile, Features: []string{feature}, Result: v1.Succeeded, Duration: per,
			Evidence: []v1.Evidence{{Kind: v1.EvidenceProbe, Summary: fmt.Sprintf("%s → %s over %s: statuses %v refusal %q %s", negClient, negAuthority, r.proto, got[i].Statuses, got[i].Refusal, got[i].Detail)}}}
		if !r.twin && r.c.DocumentedPassthrough(r.proto, mode) {
			t.Features = append(t.Features, v1.FeatureNegativeDocumented)
			t.Evidence = append(t.Evidence, v1.Evidence{Kind: v1.EvidenceProbe, Summary: fmt.Sprintf(
				"served by design: path normalization %s does not fold this target into a denied path (istio.io security best practices; escapes are never double-decoded); the backend gets exactly %q", mode, r.want.Seen)})
		}
		if msg := judge(r, got[i]); msg != "" {
			t.Result, t.Message = v1.Failed, msg
			if r.twin {
				t.Message = "false deny: " + msg
			} else {
				t.Message = "bypass: " + msg
			}
		}
		out = append(out, t)
	}
	return out
}
