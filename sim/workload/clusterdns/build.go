// Package clusterdns is the simulator's cluster DNS as the supervisor sees it:
// BuildZone computes the Zone from the topology, WriteZone hands it to the dns
// workload (which serves it with package dnsserver and reloads it on SIGHUP),
// and ResolvConf/HostsFile render what the kubelet would write into each pod.
//
// The serving code is in the subpackage so that the workload binary does not
// link the topology package and, through it, the Kubernetes API types.
package clusterdns

import (
	"sort"

	"github.com/miekg/dns"

	"github.com/ambientlab/ambientlab/sim/topology"
	"github.com/ambientlab/ambientlab/sim/workload/clusterdns/dnsserver"
)

// Zone and its parts are defined by the serving package; aliased here so the
// supervisor needs one import.
type (
	Zone     = dnsserver.Zone
	Service  = dnsserver.Service
	Port     = dnsserver.Port
	Endpoint = dnsserver.Endpoint
	Pod      = dnsserver.Pod
)

// TTL is the TTL of every answer.
const TTL = dnsserver.TTL

// WriteZone writes z to path atomically (temp file + rename).
func WriteZone(path string, z *Zone) error { return dnsserver.WriteZone(path, z) }

// LoadZone reads and validates a zone file.
func LoadZone(path string) (*Zone, error) { return dnsserver.LoadZone(path) }

// Answer computes the response to req from z; see dnsserver.Answer.
func Answer(z *Zone, req *dns.Msg) *dns.Msg { return dnsserver.Answer(z, req) }

// BuildZone extracts the zone from a resolved cluster.
func BuildZone(c *topology.Cluster) *Zone {
	z := &Zone{Domain: c.ClusterDomain, DNSIP: c.Plan.DNSIP}
	if z.Domain == "" {
		z.Domain = "cluster.local"
	}
	for _, s := range c.Services {
		zs := Service{Namespace: s.Namespace, Name: s.Name, Headless: s.Headless}
		if !s.Headless {
			zs.ClusterIP = s.ClusterIP
		}
		for _, p := range s.Ports {
			zs.Ports = append(zs.Ports, Port{Name: p.Name, Protocol: string(p.Protocol), Port: p.Port})
		}
		for _, e := range s.Endpoints {
			ze := Endpoint{Pod: e.Pod, IP: e.IP}
			for _, p := range s.Ports {
				if p.Name == "" {
					continue
				}
				if tp, ok := e.TargetPorts[p.PortKey()]; ok {
					if ze.TargetPorts == nil {
						ze.TargetPorts = make(map[string]uint16)
					}
					ze.TargetPorts[p.Name] = tp
				}
			}
			zs.Endpoints = append(zs.Endpoints, ze)
		}
		z.Services = append(z.Services, zs)
	}
	for _, p := range c.Pods {
		if !p.IP.IsValid() {
			continue
		}
		z.Pods = append(z.Pods, Pod{Namespace: p.Namespace, Name: p.Name, IP: p.IP, Hostname: p.Hostname, Subdomain: p.Subdomain})
	}
	// Sorted so the same cluster always writes the same file.
	sort.Slice(z.Services, func(i, j int) bool { return svcKey(z.Services[i]) < svcKey(z.Services[j]) })
	sort.Slice(z.Pods, func(i, j int) bool { return podKey(z.Pods[i]) < podKey(z.Pods[j]) })
	return z
}

func svcKey(s Service) string { return s.Namespace + "/" + s.Name }
func podKey(p Pod) string     { return p.Namespace + "/" + p.Name }
