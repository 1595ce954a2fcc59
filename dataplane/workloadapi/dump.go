package workloadapi

import (
	"encoding/json"

	"github.com/ambientlab/ambientlab/dataplane/policy"
)

// dumpDoc is the config_dump shape: three sorted lists, like ztunnel's
// `/config_dump` (workloads, services, policies).
type dumpDoc struct {
	Workloads []*Workload  `json:"workloads"`
	Services  []*Service   `json:"services"`
	Policies  []dumpPolicy `json:"policies"`
}

// dumpPolicy spells the policy enums out; the rules keep the evaluator's shape.
type dumpPolicy struct {
	Name      string        `json:"name"`
	Namespace string        `json:"namespace"`
	Scope     string        `json:"scope"`
	Action    string        `json:"action"`
	DryRun    bool          `json:"dryRun,omitempty"`
	Rules     []policy.Rule `json:"rules"`
}

// Dump renders the snapshot as indented JSON with every list sorted (workloads
// by UID, services by key, policies by key; map keys are sorted by
// encoding/json), so two dumps of equal content are byte-identical.
func (s *Snapshot) Dump() ([]byte, error) {
	d := dumpDoc{Workloads: s.workloads, Services: s.services, Policies: make([]dumpPolicy, 0, len(s.policyList))}
	if d.Workloads == nil {
		d.Workloads = []*Workload{}
	}
	if d.Services == nil {
		d.Services = []*Service{}
	}
	for _, p := range s.policyList {
		d.Policies = append(d.Policies, dumpPolicy{
			Name: p.Name, Namespace: p.Namespace, Scope: p.Scope.String(), Action: p.Action.String(),
			DryRun: p.DryRun, Rules: p.Rules,
		})
	}
	return json.MarshalIndent(d, "", "  ")
}
