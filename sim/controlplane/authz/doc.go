// Package authz computes what istiod sends ztunnel for authorization: it converts
// Istio AuthorizationPolicy and PeerAuthentication CRDs into workload-API
// `security.Authorization` protos (istio `pilot/pkg/serviceregistry/ambient/
// authorization.go`, `policies.go`, `workloads.go` buildWorkloadPolicies), lists
// which policies a workload references, and converts the wire form into the data
// plane model (FromWire) that dataplane/policy evaluates.
//
// One documented divergence (Config.UpstreamL7Deny): upstream turns a DENY rule's
// HTTP-only from/to/when entry into an empty match that ztunnel skips, so such a
// DENY never fires (istio/istio#61126). By default we drop that clause instead,
// so the DENY is enforced without its HTTP parts, as the upstream status text
// promises and reliability Z7 requires.
package authz
