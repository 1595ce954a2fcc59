package authz

import (
	"reflect"
	"testing"

	"istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
)

func TestSelects(t *testing.T) {
	spec := func(s *typev1beta1.WorkloadSelector) *v1beta1.AuthorizationPolicy {
		return &v1beta1.AuthorizationPolicy{Selector: s}
	}
	labels := map[string]string{"app": "httpbin", "version": "v1"}
	tests := []struct {
		name string
		ap   *securityv1.AuthorizationPolicy
		ns   string
		want bool
	}{
		{"subset selects", ap("foo", "p", spec(sel("app", "httpbin"))), "foo", true},
		{"all labels select", ap("foo", "p", spec(sel("app", "httpbin", "version", "v1"))), "foo", true},
		{"value mismatch", ap("foo", "p", spec(sel("app", "other"))), "foo", false},
		{"extra label", ap("foo", "p", spec(sel("app", "httpbin", "tier", "x"))), "foo", false},
		{"other namespace", ap("bar", "p", spec(sel("app", "httpbin"))), "foo", false},
		{"root namespace selector spans namespaces", ap(root, "p", spec(sel("app", "httpbin"))), "foo", true},
		{"namespace-wide is not selector-referenced", ap("foo", "p", spec(nil)), "foo", false},
		{"targetRefs never", ap("foo", "p", &v1beta1.AuthorizationPolicy{Selector: sel("app", "httpbin"),
			TargetRefs: []*typev1beta1.PolicyTargetReference{{Kind: "Service", Name: "httpbin"}}}), "foo", false},
		{"CUSTOM is not sent, so not referenced", ap("foo", "p", &v1beta1.AuthorizationPolicy{Selector: sel("app", "httpbin"),
			Action: v1beta1.AuthorizationPolicy_CUSTOM}), "foo", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Config{}).Selects(tt.ap, tt.ns, labels); got != tt.want {
				t.Errorf("Selects = %v, want %v", got, tt.want)
			}
		})
	}
	refs := Config{}.WorkloadPolicyRefs(
		[]*securityv1.AuthorizationPolicy{ap("foo", "z", spec(sel("app", "httpbin"))), ap(root, "a", spec(sel("version", "v1"))), ap("foo", "ns", spec(nil))},
		[]*securityv1.PeerAuthentication{pa(root, "m", 0, strict, nil, nil)}, "foo", labels)
	if want := []string{"foo/z", "istio-system/a", staticKey}; !reflect.DeepEqual(refs, want) {
		t.Errorf("WorkloadPolicyRefs = %v, want %v", refs, want)
	}
}
