package authz

import (
	"istio.io/istio/pkg/workloadapi/security"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// FromWire converts the workload-API form into the data plane model. It is
// workloadapi.PolicyFromWire (the conversion lives at the data plane's xDS
// edge, which must not import sim); kept here so the converter's tests can
// check that everything Convert emits is accepted by the data plane.
func FromWire(a *security.Authorization) (*policy.Policy, error) {
	return workloadapi.PolicyFromWire(a)
}
