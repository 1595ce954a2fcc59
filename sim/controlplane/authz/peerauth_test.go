package authz

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"istio.io/istio/pkg/workloadapi/security"
)

const staticKey = root + "/" + StaticStrictPolicyName

var httpbin = map[string]string{"app": "httpbin"}

func TestWorkloadPeerAuthenticationRefs(t *testing.T) {
	app := []string{"app", "httpbin"}
	tests := []struct {
		name string
		pas  []*securityv1.PeerAuthentication
		want []string
	}{
		{"none", nil, nil},
		{"mesh STRICT", []*securityv1.PeerAuthentication{pa(root, "m", 0, strict, nil, nil)}, []string{staticKey}},
		{"mesh DISABLE is not STRICT", []*securityv1.PeerAuthentication{pa(root, "m", 0, disable, nil, nil)}, nil},
		{"namespace PERMISSIVE beats mesh STRICT", []*securityv1.PeerAuthentication{pa(root, "m", 0, strict, nil, nil), pa("foo", "n", 0, permissive, nil, nil)}, nil},
		{"namespace STRICT beats mesh PERMISSIVE", []*securityv1.PeerAuthentication{pa(root, "m", 0, permissive, nil, nil), pa("foo", "n", 0, strict, nil, nil)}, []string{staticKey}},
		{"namespace UNSET inherits mesh STRICT", []*securityv1.PeerAuthentication{pa(root, "m", 0, strict, nil, nil), pa("foo", "n", 0, unset, nil, nil)}, []string{staticKey}},
		{"oldest namespace policy wins (PERMISSIVE)", []*securityv1.PeerAuthentication{pa("foo", "new", 2, strict, nil, nil), pa("foo", "old", 1, permissive, nil, nil)}, nil},
		{"oldest namespace policy wins (STRICT)", []*securityv1.PeerAuthentication{pa("foo", "new", 2, permissive, nil, nil), pa("foo", "old", 1, strict, nil, nil)}, []string{staticKey}},
		{"oldest mesh policy wins", []*securityv1.PeerAuthentication{pa(root, "new", 2, strict, nil, nil), pa(root, "old", 1, permissive, nil, nil)}, nil},
		{"other namespace ignored", []*securityv1.PeerAuthentication{pa("bar", "n", 0, strict, nil, nil)}, nil},
		{"workload PERMISSIVE beats namespace STRICT", []*securityv1.PeerAuthentication{pa("foo", "n", 0, strict, nil, nil), pa("foo", "w", 0, permissive, app, nil)}, nil},
		{"workload STRICT beats namespace PERMISSIVE", []*securityv1.PeerAuthentication{pa("foo", "n", 0, permissive, nil, nil), pa("foo", "w", 0, strict, app, nil)}, []string{staticKey}},
		{"workload selector not matching", []*securityv1.PeerAuthentication{pa("foo", "w", 0, strict, []string{"app", "other"}, nil)}, nil},
		{"root selector policy is not workload-level", []*securityv1.PeerAuthentication{pa(root, "w", 0, strict, app, nil)}, nil},
		{"workload STRICT with PERMISSIVE port: own policy only", []*securityv1.PeerAuthentication{pa("foo", "w", 0, strict, app, map[uint32]mtlsMode{8080: permissive})},
			[]string{"foo/converted_peer_authentication_w"}},
		{"workload STRICT with STRICT ports: static", []*securityv1.PeerAuthentication{pa("foo", "w", 0, strict, app, map[uint32]mtlsMode{8080: strict})}, []string{staticKey}},
		{"workload PERMISSIVE with STRICT port", []*securityv1.PeerAuthentication{pa("foo", "w", 0, permissive, app, map[uint32]mtlsMode{9090: strict})},
			[]string{"foo/converted_peer_authentication_w"}},
		{"workload UNSET under STRICT ns with PERMISSIVE port", []*securityv1.PeerAuthentication{pa("foo", "n", 0, strict, nil, nil), pa("foo", "w", 0, unset, app, map[uint32]mtlsMode{8080: permissive})},
			[]string{"foo/converted_peer_authentication_w"}},
		{"workload UNSET under PERMISSIVE mesh with STRICT port", []*securityv1.PeerAuthentication{pa(root, "m", 0, permissive, nil, nil), pa("foo", "w", 0, unset, app, map[uint32]mtlsMode{8080: strict})},
			[]string{"foo/converted_peer_authentication_w"}},
		{"oldest workload policy wins", []*securityv1.PeerAuthentication{pa("foo", "w2", 2, strict, app, nil), pa("foo", "w1", 1, permissive, app, nil)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Config{}.WorkloadPolicyRefs(nil, tt.pas, "foo", httpbin)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("refs = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConvertPeerAuthentication(t *testing.T) {
	app := []string{"app", "httpbin"}
	notPort := func(p uint32) []*security.Match { return one(&security.Match{NotDestinationPorts: []uint32{p}}) }
	deny := func(groups ...*security.Group) *security.Authorization {
		return &security.Authorization{Name: "converted_peer_authentication_w", Namespace: "foo",
			Scope: security.Scope_WORKLOAD_SELECTOR, Action: security.Action_DENY, Groups: groups}
	}
	tests := []struct {
		name string
		pas  []*securityv1.PeerAuthentication
		want *security.Authorization // the converted workload policy, nil if none
	}{
		{"STRICT with PERMISSIVE port exempts it", []*securityv1.PeerAuthentication{pa("foo", "w", 0, strict, app, map[uint32]mtlsMode{8080: permissive})},
			deny(group(one(denyPlaintext()), notPort(8080)))},
		{"DISABLE port is an exemption too", []*securityv1.PeerAuthentication{pa("foo", "w", 0, strict, app, map[uint32]mtlsMode{8080: disable, 8081: strict})},
			deny(group(one(denyPlaintext()), notPort(8080)))},
		{"PERMISSIVE with STRICT port", []*securityv1.PeerAuthentication{pa("foo", "w", 0, permissive, app, map[uint32]mtlsMode{9090: strict, 9091: strict})},
			deny(group(one(denyPlaintext(9090))), group(one(denyPlaintext(9091))))},
		{"UNSET under STRICT ns merges STRICT", []*securityv1.PeerAuthentication{pa("foo", "n", 0, strict, nil, nil), pa("foo", "w", 1, unset, app, map[uint32]mtlsMode{8080: permissive})},
			deny(group(notPort(8080), one(denyPlaintext())))},
		{"UNSET under STRICT mesh merges STRICT", []*securityv1.PeerAuthentication{pa(root, "m", 0, strict, nil, nil), pa("foo", "w", 1, unset, app, map[uint32]mtlsMode{8080: permissive})},
			deny(group(notPort(8080), one(denyPlaintext())))},
		{"UNSET under PERMISSIVE ns: PERMISSIVE port is moot", []*securityv1.PeerAuthentication{pa("foo", "n", 0, permissive, nil, nil), pa("foo", "w", 1, unset, app, map[uint32]mtlsMode{8080: permissive})}, nil},
		{"STRICT with only STRICT ports: static covers it", []*securityv1.PeerAuthentication{pa("foo", "w", 0, strict, app, map[uint32]mtlsMode{8080: strict})}, nil},
		{"no portLevelMtls: not converted", []*securityv1.PeerAuthentication{pa("foo", "w", 0, strict, app, nil)}, nil},
		{"namespace-wide: not converted", []*securityv1.PeerAuthentication{pa("foo", "w", 0, strict, nil, map[uint32]mtlsMode{8080: permissive})}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, warnings := Convert(nil, tt.pas, root)
			if len(warnings) != 0 {
				t.Errorf("warnings: %v", warnings)
			}
			var got *security.Authorization
			sawStatic := false
			for _, a := range out {
				switch a.Name {
				case StaticStrictPolicyName:
					sawStatic = true
					if diff := cmp.Diff(staticStrictPolicy(root), a, protocmp.Transform()); diff != "" {
						t.Errorf("static policy (-want +got):\n%s", diff)
					}
				case "converted_peer_authentication_w":
					got = a
				default:
					t.Errorf("unexpected policy %s/%s", a.Namespace, a.Name)
				}
			}
			if !sawStatic {
				t.Error("static STRICT policy missing although PeerAuthentications exist")
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("converted policy (-want +got):\n%s", diff)
			}
		})
	}
	if out, _ := Convert(nil, nil, root); len(out) != 0 {
		t.Errorf("no PeerAuthentication must send nothing, got %v", out)
	}
}
