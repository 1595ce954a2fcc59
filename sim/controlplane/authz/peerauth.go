package authz

import (
	"sort"

	"istio.io/api/security/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"istio.io/istio/pkg/workloadapi/security"
)

// Names istiod gives converted PeerAuthentications ('_' is illegal in k8s names,
// so they cannot collide): istio `authorization.go` staticStrictPolicyName and
// `pilot/pkg/model/authentication.go` convertedPeerAuthenticationPrefix.
const (
	StaticStrictPolicyName            = "istio_converted_static_strict"
	ConvertedPeerAuthenticationPrefix = "converted_peer_authentication_"
)

// denyPlaintext is DENY notPrincipals[presence]: a connection without a peer
// identity (plaintext arriving on 15006) matches and is denied.
func denyPlaintext(ports ...uint32) *security.Match {
	return &security.Match{
		NotPrincipals:    []*security.StringMatch{{MatchType: &security.StringMatch_Presence{}}},
		DestinationPorts: ports,
	}
}

// staticStrictPolicy is sent whenever any PeerAuthentication exists; workloads
// whose effective mode is STRICT reference it (istio `policies.go` DefaultPolicy).
func staticStrictPolicy(rootNamespace string) *security.Authorization {
	return &security.Authorization{
		Name: StaticStrictPolicyName, Namespace: rootNamespace,
		Scope: security.Scope_WORKLOAD_SELECTOR, Action: security.Action_DENY,
		Groups: []*security.Group{{Rules: []*security.Rules{{Matches: []*security.Match{denyPlaintext()}}}}},
	}
}

func mode(m *v1beta1.PeerAuthentication_MutualTLS) v1beta1.PeerAuthentication_MutualTLS_Mode {
	return m.GetMode() // nil-safe: nil is UNSET
}

func isStrict(m *v1beta1.PeerAuthentication_MutualTLS) bool {
	return mode(m) == v1beta1.PeerAuthentication_MutualTLS_STRICT
}

func isUnset(m *v1beta1.PeerAuthentication_MutualTLS) bool {
	return mode(m) == v1beta1.PeerAuthentication_MutualTLS_UNSET
}

// isLax is PERMISSIVE or DISABLE: ambient has no DISABLE, it means "not STRICT".
func isLax(m *v1beta1.PeerAuthentication_MutualTLS) bool {
	return mode(m) == v1beta1.PeerAuthentication_MutualTLS_PERMISSIVE || mode(m) == v1beta1.PeerAuthentication_MutualTLS_DISABLE
}

func older(a, b *securityv1.PeerAuthentication) bool {
	return b == nil || a.CreationTimestamp.Before(&b.CreationTimestamp)
}

// oldestWithoutSelector is istio `policies.go` PeerAuthByNamespace + getOldestPeerAuthn.
func oldestWithoutSelector(pas []*securityv1.PeerAuthentication, ns string) *securityv1.PeerAuthentication {
	var oldest *securityv1.PeerAuthentication
	for _, pa := range pas {
		if pa.Namespace == ns && pa.Spec.GetSelector() == nil && older(pa, oldest) {
			oldest = pa
		}
	}
	return oldest
}

func sortedPorts(m map[uint32]*v1beta1.PeerAuthentication_MutualTLS) []uint32 {
	ports := make([]uint32, 0, len(m))
	for p := range m {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
	return ports
}

// convertPeerAuthentication mirrors istio `authorization.go`
// convertPeerAuthentication: only selector, non-root policies with portLevelMtls
// become a policy, merged with the inherited STRICT mode when needed (since any
// matching DENY wins, a port exemption cannot live beside the static STRICT policy).
func convertPeerAuthentication(rootNamespace string, pa, nsPA, rootPA *securityv1.PeerAuthentication) *security.Authorization {
	spec := &pa.Spec
	if pa.Namespace == rootNamespace || spec.GetSelector() == nil || len(spec.GetPortLevelMtls()) == 0 {
		return nil
	}
	top := mode(spec.GetMtls())
	var rules []*security.Rules
	var groups []*security.Group
	if top == v1beta1.PeerAuthentication_MutualTLS_STRICT {
		rules = append(rules, &security.Rules{Matches: []*security.Match{denyPlaintext()}})
	}

	var nsMtls, rootMtls *v1beta1.PeerAuthentication_MutualTLS
	if nsPA != nil {
		nsMtls = nsPA.Spec.GetMtls()
	}
	if rootPA != nil {
		rootMtls = rootPA.Spec.GetMtls()
	}
	foundNonStrictPort := false
	for _, port := range sortedPorts(spec.GetPortLevelMtls()) {
		portMtls := spec.GetPortLevelMtls()[port]
		switch {
		case isStrict(portMtls):
			// Already enforced by the parent if the workload is STRICT, or UNSET
			// under a STRICT namespace, or UNSET under an unset namespace and a
			// STRICT mesh. (Upstream's condition, including its operator
			// precedence, is kept as is.)
			if isStrict(spec.GetMtls()) ||
				(isUnset(spec.GetMtls()) && (nsPA != nil && isStrict(nsMtls))) ||
				((nsPA == nil || isUnset(nsMtls)) && rootPA != nil && isStrict(rootMtls)) {
				continue
			}
			groups = append(groups, &security.Group{Rules: []*security.Rules{{Matches: []*security.Match{denyPlaintext(port)}}}})
		case isLax(portMtls):
			if top == v1beta1.PeerAuthentication_MutualTLS_PERMISSIVE || top == v1beta1.PeerAuthentication_MutualTLS_DISABLE {
				continue
			}
			if top == v1beta1.PeerAuthentication_MutualTLS_UNSET && ((nsPA != nil && !isStrict(nsMtls)) ||
				(nsPA == nil && rootPA != nil && !isStrict(rootMtls)) ||
				(nsPA == nil && rootPA == nil)) {
				continue
			}
			foundNonStrictPort = true
			// Exempt the port: the DENY only matches other ports.
			rules = append(rules, &security.Rules{Matches: []*security.Match{{NotDestinationPorts: []uint32{port}}}})
		}
	}
	if top == v1beta1.PeerAuthentication_MutualTLS_STRICT && !foundNonStrictPort {
		return nil // plain STRICT: the static policy covers it
	}
	if len(rules) == 0 && len(groups) == 0 {
		return nil
	}
	mergeStrict := (rootPA != nil && isStrict(rootMtls) && (nsPA == nil || isUnset(nsMtls) || isStrict(nsMtls))) ||
		(nsPA != nil && isStrict(nsMtls))
	if mergeStrict && foundNonStrictPort {
		rules = append(rules, &security.Rules{Matches: []*security.Match{denyPlaintext()}})
	}
	if len(rules) > 0 {
		groups = append(groups, &security.Group{Rules: rules})
	}
	return &security.Authorization{
		Name: ConvertedPeerAuthenticationPrefix + pa.Name, Namespace: pa.Namespace,
		Scope: security.Scope_WORKLOAD_SELECTOR, Action: security.Action_DENY, Groups: groups,
	}
}

// effectivePeerAuthenticationRefs mirrors istio `authorization.go`
// convertedSelectorPeerAuthentications: given the PeerAuthentications that apply
// to one workload, the policy keys it must reference — the static STRICT policy,
// its own converted port-level policy, or neither. Mesh < namespace < workload;
// the oldest wins within a level.
func effectivePeerAuthenticationRefs(rootNamespace string, applicable []*securityv1.PeerAuthentication) []string {
	var meshPA, nsPA, wlPA *securityv1.PeerAuthentication
	for _, pa := range applicable {
		sel := pa.Spec.GetSelector()
		switch {
		case sel == nil || len(sel.GetMatchLabels()) == 0:
			if pa.Namespace == rootNamespace {
				if older(pa, meshPA) {
					meshPA = pa
				}
			} else if older(pa, nsPA) {
				nsPA = pa
			}
		case pa.Namespace != rootNamespace:
			if older(pa, wlPA) {
				wlPA = pa
			}
		}
	}
	strict := false
	if meshPA != nil {
		strict = isStrict(meshPA.Spec.GetMtls())
	}
	if nsPA != nil && !isUnset(nsPA.Spec.GetMtls()) {
		strict = isStrict(nsPA.Spec.GetMtls())
	}
	portKey := ""
	if wlPA != nil {
		spec := &wlPA.Spec
		if isStrict(spec.GetMtls()) {
			strict = true
		}
		if isLax(spec.GetMtls()) {
			strict = false
		}
		ownKey := wlPA.Namespace + "/" + ConvertedPeerAuthenticationPrefix + wlPA.Name
		anyPort := func(pred func(*v1beta1.PeerAuthentication_MutualTLS) bool) bool {
			for _, m := range spec.GetPortLevelMtls() {
				if pred(m) {
					return true
				}
			}
			return false
		}
		isPermissive := func(m *v1beta1.PeerAuthentication_MutualTLS) bool {
			return mode(m) == v1beta1.PeerAuthentication_MutualTLS_PERMISSIVE
		}
		if spec.GetPortLevelMtls() != nil {
			switch {
			case isStrict(spec.GetMtls()):
				if anyPort(isLax) {
					portKey, strict = ownKey, false // the converted policy carries STRICT itself
				}
			case isLax(spec.GetMtls()):
				if anyPort(isStrict) {
					portKey = ownKey
				}
			case strict: // UNSET under a STRICT mesh or namespace
				// Upstream checks only PERMISSIVE here, not DISABLE.
				if anyPort(isPermissive) {
					portKey, strict = ownKey, false
				}
			default: // UNSET under a non-STRICT parent
				if anyPort(isStrict) {
					portKey = ownKey
				}
			}
		}
	}
	var refs []string
	if strict {
		refs = append(refs, rootNamespace+"/"+StaticStrictPolicyName)
	}
	if portKey != "" {
		refs = append(refs, portKey)
	}
	sort.Strings(refs)
	return refs
}
