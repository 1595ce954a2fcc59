package authz

import (
	"sort"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"istio.io/istio/pkg/workloadapi/security"
	"k8s.io/apimachinery/pkg/labels"
)

// DefaultRootNamespace is istiod's default mesh root namespace.
const DefaultRootNamespace = "istio-system"

// Config holds the istiod settings that change the conversion.
type Config struct {
	// RootNamespace: policies here are mesh-wide. Empty means DefaultRootNamespace.
	RootNamespace string
	// EnableDryRun is AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY (default false):
	// without it a dry-run policy is not sent and gets a warning.
	EnableDryRun bool
	// UpstreamL7Deny reproduces istiod byte for byte: a DENY rule's HTTP-only
	// entry becomes an empty match and the DENY never fires at ztunnel
	// (istio/istio#61126). Off by default: we drop such clauses (fail closed).
	UpstreamL7Deny bool
}

func (c Config) rootNamespace() string {
	if c.RootNamespace == "" {
		return DefaultRootNamespace
	}
	return c.RootNamespace
}

// Convert computes every Authorization istiod would send ztunnel, sorted by
// namespace/name, and the status warnings, with the default Config for
// rootNamespace.
func Convert(aps []*securityv1.AuthorizationPolicy, pas []*securityv1.PeerAuthentication, rootNamespace string) ([]*security.Authorization, []Warning) {
	return Config{RootNamespace: rootNamespace}.Convert(aps, pas)
}

// Convert is the package-level Convert with explicit settings. It mirrors istio
// `policies.go` PolicyCollections (minus the implicit waypoint policies).
func (c Config) Convert(aps []*securityv1.AuthorizationPolicy, pas []*securityv1.PeerAuthentication) ([]*security.Authorization, []Warning) {
	root := c.rootNamespace()
	var out []*security.Authorization
	var warnings []Warning
	for _, ap := range aps {
		a, w := c.convertAuthorizationPolicy(ap)
		if a != nil {
			out = append(out, a)
		}
		if w != nil {
			warnings = append(warnings, *w)
		}
	}
	rootPA := oldestWithoutSelector(pas, root)
	for _, pa := range pas {
		if a := convertPeerAuthentication(root, pa, oldestWithoutSelector(pas, pa.Namespace), rootPA); a != nil {
			out = append(out, a)
		}
	}
	if len(pas) > 0 {
		out = append(out, staticStrictPolicy(root))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	sort.SliceStable(warnings, func(i, j int) bool {
		if warnings[i].Namespace != warnings[j].Namespace {
			return warnings[i].Namespace < warnings[j].Namespace
		}
		return warnings[i].Name < warnings[j].Name
	})
	return out, warnings
}

// Selects reports whether a WORKLOAD_SELECTOR policy that istiod sends to ztunnel
// applies to a pod, i.e. belongs in that Workload's authorization_policies:
// the policy is in the pod's namespace or the root namespace and its matchLabels
// are a subset of the pod's labels (istio `workloads.go` buildWorkloadPolicies).
// Namespace-wide, global, targetRefs and unsent policies are never "selected".
func (c Config) Selects(ap *securityv1.AuthorizationPolicy, podNamespace string, podLabels map[string]string) bool {
	if a, _ := c.convertAuthorizationPolicy(ap); a == nil || a.Scope != security.Scope_WORKLOAD_SELECTOR {
		return false
	}
	if ap.Namespace != podNamespace && ap.Namespace != c.rootNamespace() {
		return false
	}
	ml := ap.Spec.GetSelector().GetMatchLabels()
	return ml != nil && labels.SelectorFromSet(ml).Matches(labels.Set(podLabels))
}

// WorkloadPolicyRefs is the sorted-then-appended list istiod puts in a Workload's
// authorization_policies: selected AuthorizationPolicies ("ns/name", sorted),
// then the PeerAuthentication-derived keys.
func (c Config) WorkloadPolicyRefs(aps []*securityv1.AuthorizationPolicy, pas []*securityv1.PeerAuthentication,
	podNamespace string, podLabels map[string]string,
) []string {
	root := c.rootNamespace()
	var refs []string
	for _, ap := range aps {
		if c.Selects(ap, podNamespace, podLabels) {
			refs = append(refs, ap.Namespace+"/"+ap.Name)
		}
	}
	sort.Strings(refs)
	var applicable []*securityv1.PeerAuthentication
	for _, pa := range pas {
		sel := pa.Spec.GetSelector()
		switch {
		case pa.Namespace == root && sel == nil:
			applicable = append(applicable, pa)
		case pa.Namespace != podNamespace:
		case sel == nil || labels.SelectorFromSet(sel.GetMatchLabels()).Matches(labels.Set(podLabels)):
			applicable = append(applicable, pa)
		}
	}
	return append(refs, effectivePeerAuthenticationRefs(root, applicable)...)
}
