package manifest

import (
	"strings"
	"testing"
)

func TestNotEnforcedWarnings(t *testing.T) {
	const ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n---\n"
	cases := []struct {
		name, doc string
		want      string // substring of the warning, "" = no warning
	}{
		{"selector ALLOW is enforced by ztunnel", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: demo}
spec:
  selector: {matchLabels: {app: x}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/a]}}]}]
`, ""},
		{"PeerAuthentication is enforced", `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: p, namespace: demo}
spec: {mtls: {mode: STRICT}}
`, ""},
		{"targetRefs waits for the waypoint", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: x}]
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
`, "targetRefs are enforced by waypoints"},
		{"AUDIT is not sent to ztunnel", `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p, namespace: demo}
spec: {action: AUDIT, rules: [{}]}
`, "does not support the AUDIT action"},
		{"VirtualService waits", `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v, namespace: demo}
spec: {hosts: [x]}
`, "accepted, not yet enforced"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Load("e.yaml", []byte(ns+tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range set.Warnings {
				if w.Code == WarnNotEnforced {
					got = append(got, w.String())
				}
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("unexpected warnings %v", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
				t.Errorf("warnings %v, want one containing %q", got, tc.want)
			}
		})
	}
}
