package scenarios

import (
	"errors"
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

// base is a small valid file body the cases build on: lines 1-35.
const base = `apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpbin
  namespace: demo
spec:
  selector:
    matchLabels: {app: httpbin}
  template:
    metadata:
      labels: {app: httpbin}
    spec:
      containers:
      - {name: httpbin, image: docker.io/kennethreitz/httpbin, ports: [{name: http, containerPort: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: httpbin
  namespace: demo
spec:
  selector: {app: httpbin}
  ports: [{name: http, port: 8000, targetPort: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleep, namespace: demo}
spec:
  selector: {matchLabels: {app: sleep}}
  template: {metadata: {labels: {app: sleep}}, spec: {containers: [{name: sleep, image: curlimages/curl, command: [sleep, infinity]}]}}
---
`

// scenarioHead is lines 36-42.
const scenarioHead = `apiVersion: ambientlab.io/v1alpha1
kind: Scenario
metadata:
  name: t
spec:
  profile: SMOKE
  features: [SimulatorServices]
`

const okProbe = `  steps:
  - kind: probe
    from: demo/deploy/sleep
    url: http://httpbin.demo:8000/get
`

func TestLoadValid(t *testing.T) {
	r, err := Load("ok.yaml", []byte(base+scenarioHead+okProbe))
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "t" || r.Profile != ProfileSmoke || len(r.Steps) != 1 || r.Nodes != DefaultNodes || r.Hash == "" {
		t.Fatalf("got %+v", r)
	}
	p := r.Steps[0].(*ProbeAction)
	if p.Expect.Outcome != OutcomeOK || p.Convergence.Consecutive != 3 || p.Convergence.Timeout.String() != "30s" || p.Line != 45 {
		t.Errorf("defaults: %+v", p)
	}
	if len(r.Manifests.Objects) != 4 {
		t.Errorf("manifests: %d objects, want 4 (Scenario removed)", len(r.Manifests.Objects))
	}
}

// TestLoadErrors: every case must produce exactly the listed messages
// (file:line: object: field: message), all at once, and nothing else.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "typo in a DENY policy",
			in: base + `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: demo}
spec:
  acton: DENY
---
` + scenarioHead + okProbe,
			want: []string{"f.yaml:41: AuthorizationPolicy demo/deny: spec.acton: unknown field"},
		},
		{
			name: "unknown and reserved step kinds",
			in: base + scenarioHead + `  steps:
  - kind: prob
    from: demo/deploy/sleep
  - kind: fault
`,
			want: []string{
				`f.yaml:45: Scenario t: spec.steps[0].kind: unknown step kind "prob"; want one of apply, delete, exec, probe, matrix, wait, load`,
				`f.yaml:47: Scenario t: spec.steps[1].kind: step kind "fault" is not implemented yet (reserved for later work)`,
			},
		},
		{
			name: "unknown field in a step",
			in: base + scenarioHead + okProbe + `    expect: {staus: 200}
`,
			want: []string{"f.yaml:48: Scenario t: spec.steps[0].expect.staus: unknown field"},
		},
		{
			name: "policy in a missing namespace, at setup and in an apply step",
			in: base + `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: nowhere}
spec: {action: ALLOW}
---
` + scenarioHead + okProbe + `  - kind: apply
    manifests: |
      apiVersion: security.istio.io/v1
      kind: AuthorizationPolicy
      metadata:
        name: p2
        namespace: ghost
      spec: {action: DENY}
`,
			want: []string{
				`f.yaml:39: AuthorizationPolicy nowhere/p: metadata.namespace: namespace "nowhere" is not declared (add a Namespace object)`,
				`f.yaml:59: AuthorizationPolicy ghost/p2: metadata.namespace: namespace "ghost" is not declared (add a Namespace object)`,
			},
		},
		{
			name: "bad probe targets",
			in: base + scenarioHead + `  steps:
  - kind: probe
    from: demo/deploy/nosuch
    url: http://httpbin.demo:9999/get
  - kind: probe
    from: demo/sleep
    tcp: nohost
  - kind: probe
    from: demo/deploy/sleep
    url: http://missing.demo:8000/
    expect: {outcome: rst}
`,
			want: []string{
				`f.yaml:46: Scenario t: spec.steps[0].from: deployment demo/nosuch is not defined in this file at this step`,
				`f.yaml:47: Scenario t: spec.steps[0].url: host "httpbin.demo": Service demo/httpbin has no port 9999 (ports: 8000)`,
				`f.yaml:49: Scenario t: spec.steps[1].from: pod demo/sleep is not defined in this file at this step (for a Deployment's pod write demo/deploy/NAME)`,
				`f.yaml:50: Scenario t: spec.steps[1].tcp: "nohost": want HOST:PORT`,
				`f.yaml:54: Scenario t: spec.steps[2].expect.outcome: unknown outcome "rst"; want one of ok, reset, refused, timeout, dns-error, error`,
			},
		},
		{
			name: "malformed matrix grid",
			in: base + scenarioHead + `  steps:
  - kind: matrix
    sources: {sleep: demo/deploy/sleep}
    targets: {get: "http://httpbin.demo:8000/get"}
    expect: |2
             get   extra
      sleep  ok
      sleep  frob  200
`,
			want: []string{
				`f.yaml:50: Scenario t: spec.steps[0].expect: row "sleep" has 1 cells, want 2 (one per column: get extra)`,
				`f.yaml:51: Scenario t: spec.steps[0].expect: row "sleep" appears twice`,
				`f.yaml:51: Scenario t: spec.steps[0].expect: row "sleep", column "get": cell "frob": want an outcome (ok, reset, refused, timeout, dns-error, error) or an HTTP status`,
			},
		},
		{
			name: "grid labels must match sources and targets",
			in: base + scenarioHead + `  steps:
  - kind: matrix
    sources: {sleep: demo/deploy/sleep, other: demo/deploy/sleep}
    targets: {get: "http://httpbin.demo:8000/get"}
    expect: |2
             get  ip
      sleep  200  200
`,
			want: []string{
				`f.yaml:48: Scenario t: spec.steps[0].expect: grid has no source for other declared in sources`,
				`f.yaml:48: Scenario t: spec.steps[0].expect: grid targets ip not declared in targets`,
			},
		},
		{
			name: "spec enums, durations, placement",
			in: base + `apiVersion: ambientlab.io/v1alpha1
kind: Scenario
metadata: {name: t}
spec:
  profile: AMBIENT-L5
  features: [Nope]
  requires: [telepathy]
  cluster:
    nodes: 2
    placement: [{deployment: demo/httpbin, node: node-2}]
  timeouts: {probe: 0s, maxTimeToConsistency: soon}
` + okProbe,
			want: []string{
				`f.yaml:41: Scenario t: spec.profile: unknown profile "AMBIENT-L5"; want one of SMOKE, AMBIENT-L4, AMBIENT-L7, HBONE, SIDECAR-INTEROP, RESILIENCE`,
				`f.yaml:42: Scenario t: spec.features[0]: unknown feature "Nope" (see docs/scenarios.md#features)`,
				`f.yaml:43: Scenario t: spec.requires[0]: unknown capability "telepathy"; want one of services, dns, ztunnel, waypoint, sidecar, mtls-identity, access-logs, packet-capture`,
				`f.yaml:46: Scenario t: spec.cluster.placement[0].node: node "node-2" does not exist (nodes are node-0..node-1)`,
				`f.yaml:47: Scenario t: spec.timeouts.maxTimeToConsistency: invalid duration "soon" (want e.g. 500ms, 5s, 1m)`,
				`f.yaml:47: Scenario t: spec.timeouts.probe: must be > 0, got 0s`,
			},
		},
		{
			name: "step references follow apply and delete",
			in: base + scenarioHead + `  steps:
  - kind: delete
    manifests: |
      apiVersion: v1
      kind: Service
      metadata: {name: httpbin, namespace: demo}
  - kind: probe
    from: demo/deploy/sleep
    url: http://httpbin.demo:8000/get
`,
			want: []string{`f.yaml:52: Scenario t: spec.steps[1].url: host "httpbin.demo": Service demo/httpbin is not defined in this file at this step`},
		},
		{
			name: "wrong type and flow-scalar manifests",
			in: base + scenarioHead + `  cluster: {nodes: two}
  steps:
  - kind: apply
    manifests: "apiVersion: v1"
`,
			want: []string{`f.yaml:44: Scenario t: spec.cluster.nodes: wrong type: got string, want int`},
		},
		{
			name: "inline manifests must be a literal block",
			in: base + scenarioHead + `  steps:
  - kind: apply
    manifests: "apiVersion: v1"
`,
			want: []string{"f.yaml:46: Scenario t: spec.steps[0].manifests: write the manifests as a literal block (`manifests: |`) so errors can name their lines"},
		},
		{
			name: "no scenario document",
			in:   base,
			want: []string{"f.yaml:1: no `kind: Scenario` document (apiVersion ambientlab.io/v1alpha1) in this file"},
		},
		{
			name: "expectations that need capabilities are still validated",
			in: base + scenarioHead + okProbe + `    expect:
      observedIdentity: cluster.local/ns/demo/sa/sleep
      path: [ztunnel:node0]
`,
			want: []string{
				`f.yaml:49: Scenario t: spec.steps[0].expect.observedIdentity: "cluster.local/ns/demo/sa/sleep": want spiffe://TRUST-DOMAIN/ns/NS/sa/SA`,
				`f.yaml:50: Scenario t: spec.steps[0].expect.path[0]: "ztunnel:node0": want ztunnel:node-N, waypoint:NS/NAME or sidecar:NS/POD`,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Load("f.yaml", []byte(tc.in))
			if err == nil {
				t.Fatalf("accepted: %+v", r)
			}
			var l manifest.ErrorList
			if !errors.As(err, &l) {
				t.Fatalf("not an ErrorList: %v", err)
			}
			var got []string
			for _, e := range l {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestRequiresImpliedByManifestsAndExpectations(t *testing.T) {
	in := base + `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: demo}
spec: {mtls: {mode: STRICT}}
---
` + scenarioHead + okProbe + `    expect: {noPlaintext: true}
`
	r, err := Load("f.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got := []Capability{}
	got = append(got, r.Requires...)
	want := []Capability{CapPacketCapture, CapServices, CapZtunnel}
	if len(got) != len(want) {
		t.Fatalf("requires %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("requires %v, want %v", got, want)
		}
	}
	if s := r.Steps[0].Info().Requires; len(s) != 1 || s[0] != CapPacketCapture {
		t.Errorf("step requires %v", s)
	}
}

func TestDeepCopyRoundTrip(t *testing.T) {
	set, err := manifest.Decode("f.yaml", []byte(base+scenarioHead+okProbe+`    headers: {X-A: b}
    expect: {status: 200, bodyContains: [x]}
    eventually: {consecutive: 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	sc := set.Objects[len(set.Objects)-1].Obj.(*Scenario)
	cp := sc.DeepCopyObject().(*Scenario)
	p := cp.Spec.Steps[0].(*ProbeStep)
	if p.Headers["X-A"] != "b" || p.Expect.Status != 200 || p.Eventually.Consecutive != 5 || cp.Metadata.Name != "t" {
		t.Fatalf("copy lost data: %+v", p)
	}
	p.Headers["X-A"] = "changed"
	if sc.Spec.Steps[0].(*ProbeStep).Headers["X-A"] != "b" {
		t.Error("copy shares maps with the original")
	}
}

func TestEnumsParse(t *testing.T) {
	for _, p := range Profiles {
		if got, err := ParseProfile(p.String()); err != nil || got != p {
			t.Errorf("profile %s: %v", p, err)
		}
	}
	for _, f := range AllFeatures() {
		if got, err := ParseFeature(f.String()); err != nil || got != f || f.Profile() == "" {
			t.Errorf("feature %s: %v", f, err)
		}
	}
	for _, p := range Profiles {
		core, _ := ProfileFeatures(p)
		if len(core) == 0 && p != ProfileResilience {
			t.Errorf("profile %s has no core features", p)
		}
	}
	if _, err := ParseStepKind("fault"); err == nil || !strings.Contains(err.Error(), "not implemented yet") {
		t.Errorf("fault: %v", err)
	}
	if _, err := ParseOutcome("OK"); err == nil {
		t.Error("outcomes are case-sensitive")
	}
}
