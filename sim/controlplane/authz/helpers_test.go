package authz

import (
	"time"

	"istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"istio.io/istio/pkg/workloadapi/security"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"google.golang.org/protobuf/proto"
)

const root = "istio-system"

func ap(ns, name string, spec *v1beta1.AuthorizationPolicy) *securityv1.AuthorizationPolicy {
	out := &securityv1.AuthorizationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	proto.Merge(&out.Spec, spec) // the CRD embeds the proto by value; never copy it
	return out
}

func sel(kv ...string) *typev1beta1.WorkloadSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &typev1beta1.WorkloadSelector{MatchLabels: m}
}

func fromSrc(s *v1beta1.Source) []*v1beta1.Rule_From { return []*v1beta1.Rule_From{{Source: s}} }
func toOp(o *v1beta1.Operation) []*v1beta1.Rule_To   { return []*v1beta1.Rule_To{{Operation: o}} }

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type mtlsMode = v1beta1.PeerAuthentication_MutualTLS_Mode

const (
	unset      = v1beta1.PeerAuthentication_MutualTLS_UNSET
	strict     = v1beta1.PeerAuthentication_MutualTLS_STRICT
	permissive = v1beta1.PeerAuthentication_MutualTLS_PERMISSIVE
	disable    = v1beta1.PeerAuthentication_MutualTLS_DISABLE
)

// pa builds a PeerAuthentication created `age` minutes after epoch; selector
// labels are key/value pairs; ports maps port → mode.
func pa(ns, name string, age int, m mtlsMode, selector []string, ports map[uint32]mtlsMode) *securityv1.PeerAuthentication {
	p := &securityv1.PeerAuthentication{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(epoch.Add(time.Duration(age) * time.Minute))},
	}
	if m != unset {
		p.Spec.Mtls = &v1beta1.PeerAuthentication_MutualTLS{Mode: m}
	}
	if selector != nil {
		p.Spec.Selector = sel(selector...)
	}
	if ports != nil {
		p.Spec.PortLevelMtls = map[uint32]*v1beta1.PeerAuthentication_MutualTLS{}
		for port, pm := range ports {
			p.Spec.PortLevelMtls[port] = &v1beta1.PeerAuthentication_MutualTLS{Mode: pm}
		}
	}
	return p
}

// Wire builders.

func exact(s string) *security.StringMatch {
	return &security.StringMatch{MatchType: &security.StringMatch_Exact{Exact: s}}
}

func presence() *security.StringMatch {
	return &security.StringMatch{MatchType: &security.StringMatch_Presence{}}
}

func group(clauses ...[]*security.Match) *security.Group {
	g := &security.Group{Rules: []*security.Rules{}}
	for _, c := range clauses {
		g.Rules = append(g.Rules, &security.Rules{Matches: c})
	}
	return g
}

func one(m *security.Match) []*security.Match { return []*security.Match{m} }
