package authz

import (
	"sort"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/jwtauthn"
)

// WaypointJWTRules converts the RequestAuthentications attached to t (by
// targetRefs; selector attachment is not enforced in ambient, ambient-semantics
// §8) into the waypoint's jwtauthn rules, ordered by namespace/name.
// fromCookies has no equivalent yet and is reported.
func (c Config) WaypointJWTRules(ras []*securityv1.RequestAuthentication, t WaypointTarget) ([]jwtauthn.Rule, []Warning) {
	sorted := append([]*securityv1.RequestAuthentication{}, ras...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Namespace != sorted[j].Namespace {
			return sorted[i].Namespace < sorted[j].Namespace
		}
		return sorted[i].Name < sorted[j].Name
	})
	var rules []jwtauthn.Rule
	var warnings []Warning
	for _, ra := range sorted {
		spec := &ra.Spec
		if !c.attaches(ra.Namespace, targetRefsOf(spec.GetTargetRefs(), spec.GetTargetRef()), t) {
			continue
		}
		for _, jr := range spec.GetJwtRules() {
			r := jwtauthn.Rule{
				Issuer:                jr.GetIssuer(),
				Audiences:             jr.GetAudiences(),
				JWKS:                  jr.GetJwks(),
				JWKSURI:               jr.GetJwksUri(),
				FromParams:            jr.GetFromParams(),
				ForwardOriginalToken:  jr.GetForwardOriginalToken(),
				OutputPayloadToHeader: jr.GetOutputPayloadToHeader(),
			}
			for _, h := range jr.GetFromHeaders() {
				r.FromHeaders = append(r.FromHeaders, jwtauthn.HeaderLocation{Name: h.GetName(), Prefix: h.GetPrefix()})
			}
			for _, ch := range jr.GetOutputClaimToHeaders() {
				r.OutputClaimToHeaders = append(r.OutputClaimToHeaders, jwtauthn.ClaimToHeader{Header: ch.GetHeader(), Claim: ch.GetClaim()})
			}
			if len(jr.GetFromCookies()) > 0 {
				warnings = append(warnings, Warning{Kind: "RequestAuthentication", Namespace: ra.Namespace, Name: ra.Name,
					Reason: reasonUnsupportedValue, Message: "fromCookies is not supported by the reference waypoint; tokens there are ignored"})
			}
			rules = append(rules, r)
		}
	}
	return rules, warnings
}
