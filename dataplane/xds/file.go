package xds

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	state "github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// FileSource serves the configuration in a ztunnel LOCAL_XDS_PATH file
// (ztunnel `src/xds/client.rs` LocalConfig, `deny_unknown_fields`): the same
// YAML drives the reference data plane and a vendor ztunnel. Decoding is
// strict: an unknown field or enum value is an error naming it.
type FileSource struct {
	*broadcaster
	path string
}

var _ Source = (*FileSource)(nil)

// NewFileSource loads path once; call Reload to re-read it (on SIGHUP, say).
func NewFileSource(path string) (*FileSource, error) {
	f := &FileSource{broadcaster: newBroadcaster(), path: path}
	return f, f.Reload()
}

// Reload re-reads the file. On error the current snapshot stays.
func (f *FileSource) Reload() error {
	b, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("xds: %w", err)
	}
	s, err := ParseLocalConfig(b)
	if err != nil {
		return fmt.Errorf("xds: %s: %w", f.path, err)
	}
	f.publish(s)
	return nil
}

// localConfig mirrors ztunnel LocalConfig (camelCase keys).
type localConfig struct {
	Workloads []localWorkload `json:"workloads"`
	Policies  []localPolicy   `json:"policies"`
	Services  []localService  `json:"services"`
}

type localWorkload struct {
	UID                   string                       `json:"uid"`
	Name                  string                       `json:"name"`
	Namespace             string                       `json:"namespace"`
	ServiceAccount        string                       `json:"serviceAccount"`
	WorkloadIPs           []string                     `json:"workloadIps"`
	Protocol              string                       `json:"protocol"`
	Node                  string                       `json:"node"`
	Network               string                       `json:"network"`
	TrustDomain           string                       `json:"trustDomain"`
	ClusterID             string                       `json:"clusterId"`
	CanonicalName         string                       `json:"canonicalName"`
	CanonicalRevision     string                       `json:"canonicalRevision"`
	WorkloadName          string                       `json:"workloadName"`
	Status                string                       `json:"status"`
	AuthorizationPolicies []string                     `json:"authorizationPolicies"`
	Services              map[string]map[string]uint16 `json:"services"`
}

type localService struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Hostname  string            `json:"hostname"`
	VIPs      []string          `json:"vips"` // "ip" or "network/ip"
	Ports     map[string]uint16 `json:"ports"`
}

type localPolicy struct {
	Name      string               `json:"name"`
	Namespace string               `json:"namespace"`
	Scope     string               `json:"scope"`  // Global | Namespace | WorkloadSelector
	Action    string               `json:"action"` // Allow | Deny
	Rules     [][][]localRbacMatch `json:"rules"`
	DryRun    bool                 `json:"dryRun"`
}

// localRbacMatch mirrors ztunnel `rbac.rs` RbacMatch; string matches are
// externally tagged ({Exact: x}, {Prefix: x}, {Suffix: x}, {Presence: []}).
type localRbacMatch struct {
	Namespaces          []map[string]any `json:"namespaces"`
	NotNamespaces       []map[string]any `json:"notNamespaces"`
	Principals          []map[string]any `json:"principals"`
	NotPrincipals       []map[string]any `json:"notPrincipals"`
	SourceIPs           []string         `json:"sourceIps"`
	NotSourceIPs        []string         `json:"notSourceIps"`
	DestinationIPs      []string         `json:"destinationIps"`
	NotDestinationIPs   []string         `json:"notDestinationIps"`
	DestinationPorts    []uint16         `json:"destinationPorts"`
	NotDestinationPorts []uint16         `json:"notDestinationPorts"`
}

// ParseLocalConfig strictly decodes LOCAL_XDS_PATH YAML into a Snapshot.
func ParseLocalConfig(b []byte) (*state.Snapshot, error) {
	var lc localConfig
	if err := yaml.UnmarshalStrict(b, &lc); err != nil {
		return nil, err
	}
	var ws []*state.Workload
	for i, lw := range lc.Workloads {
		w, err := lw.toState()
		if err != nil {
			return nil, fmt.Errorf("workloads[%d] (%s/%s): %w", i, lw.Namespace, lw.Name, err)
		}
		ws = append(ws, w)
	}
	var ss []*state.Service
	for i, ls := range lc.Services {
		s, err := ls.toState()
		if err != nil {
			return nil, fmt.Errorf("services[%d] (%s/%s): %w", i, ls.Namespace, ls.Name, err)
		}
		ss = append(ss, s)
	}
	var ps []*policy.Policy
	for i, lp := range lc.Policies {
		p, err := lp.toState()
		if err != nil {
			return nil, fmt.Errorf("policies[%d] (%s/%s): %w", i, lp.Namespace, lp.Name, err)
		}
		ps = append(ps, p)
	}
	return state.New(ws, ss, ps)
}

func (lw localWorkload) toState() (*state.Workload, error) {
	w := &state.Workload{
		UID: lw.UID, Name: lw.Name, Namespace: lw.Namespace, ServiceAccount: lw.ServiceAccount, Node: lw.Node,
		Network: lw.Network, TrustDomain: lw.TrustDomain, ClusterID: lw.ClusterID, CanonicalName: lw.CanonicalName,
		CanonicalRevision: lw.CanonicalRevision, WorkloadName: lw.WorkloadName,
		AuthorizationPolicies: lw.AuthorizationPolicies, Status: state.StatusHealthy, Protocol: state.TunnelTCP,
	}
	if w.Name == "" || w.Namespace == "" {
		return nil, fmt.Errorf("name and namespace are required")
	}
	if w.UID == "" { // ztunnel's examples omit uid; keys must still be unique
		w.UID = w.Namespace + "/" + w.Name
	}
	var err error
	if lw.Protocol != "" {
		if w.Protocol, err = state.ParseTunnelProtocol(lw.Protocol); err != nil {
			return nil, err
		}
	}
	if lw.Status != "" {
		if w.Status, err = state.ParseWorkloadStatus(lw.Status); err != nil {
			return nil, err
		}
	}
	for _, s := range lw.WorkloadIPs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, err
		}
		w.IPs = append(w.IPs, ip.Unmap())
	}
	for key, ports := range lw.Services {
		sk, err := state.ParseServiceKey(key)
		if err != nil {
			return nil, err
		}
		if w.Services == nil {
			w.Services = map[state.ServiceKey]map[uint16]uint16{}
		}
		m := map[uint16]uint16{}
		for sp, tp := range ports {
			p, err := strconv.ParseUint(sp, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("services[%s]: port %q: %w", key, sp, err)
			}
			m[uint16(p)] = tp
		}
		w.Services[sk] = m
	}
	return w, nil
}

func (ls localService) toState() (*state.Service, error) {
	s := &state.Service{Name: ls.Name, Namespace: ls.Namespace, Hostname: ls.Hostname}
	if s.Name == "" || s.Namespace == "" || s.Hostname == "" {
		return nil, fmt.Errorf("name, namespace and hostname are required")
	}
	for _, v := range ls.VIPs {
		if i := strings.LastIndexByte(v, '/'); i >= 0 {
			v = v[i+1:]
		}
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return nil, err
		}
		s.VIPs = append(s.VIPs, ip.Unmap())
	}
	for sp, tp := range ls.Ports {
		p, err := strconv.ParseUint(sp, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("port %q: %w", sp, err)
		}
		s.Ports = append(s.Ports, state.Port{ServicePort: uint16(p), TargetPort: tp})
	}
	sortPorts(s.Ports)
	return s, nil
}

func sortPorts(ps []state.Port) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].ServicePort < ps[j-1].ServicePort; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}
