// Package dnsserver is the serving half of the simulator's cluster DNS: the
// Zone file format, its loader, the answer logic (CoreDNS kubernetes plugin
// semantics, no upstream) and a UDP+TCP server. It depends on the standard
// library and github.com/miekg/dns only, because the per-pod workload binary
// links it; building a Zone from the topology lives in package clusterdns.
package dnsserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
)

// maxZoneBytes bounds a zone file: a thousand-pod cluster is well under 1 MiB.
const maxZoneBytes = 64 << 20

// Zone is everything the DNS server knows: Services with their endpoints and
// pods, for one cluster domain. It is the JSON contract between the supervisor
// (clusterdns.BuildZone, WriteZone) and the dns workload (LoadZone). Use it by
// pointer: it caches its compiled index.
type Zone struct {
	Domain   string     `json:"domain"` // "cluster.local", no trailing dot
	DNSIP    netip.Addr `json:"dnsIP"`  // answered for ns.dns.<domain>
	Services []Service  `json:"services"`
	Pods     []Pod      `json:"pods"`

	once sync.Once
	idx  *index
	err  error
}

// Service is a Service's DNS-relevant part.
type Service struct {
	Namespace string     `json:"namespace"`
	Name      string     `json:"name"`
	Headless  bool       `json:"headless,omitempty"`
	ClusterIP netip.Addr `json:"clusterIP"` // zero when headless
	Ports     []Port     `json:"ports,omitempty"`
	Endpoints []Endpoint `json:"endpoints,omitempty"`
}

// Port is a Service port; only named ports get SRV records.
type Port struct {
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol"` // "TCP" or "UDP"
	Port     uint16 `json:"port"`
}

// Endpoint is one ready pod behind a Service.
type Endpoint struct {
	Pod string     `json:"pod"` // "namespace/name"
	IP  netip.Addr `json:"ip"`
	// TargetPorts maps a Port's Name to the pod port (headless SRV records
	// point at the pod's port, not the Service's).
	TargetPorts map[string]uint16 `json:"targetPorts,omitempty"`
}

// Pod is a pod's DNS-relevant part.
type Pod struct {
	Namespace string     `json:"namespace"`
	Name      string     `json:"name"`
	IP        netip.Addr `json:"ip"`
	Hostname  string     `json:"hostname,omitempty"`
	Subdomain string     `json:"subdomain,omitempty"`
}

// WriteZone writes z to path atomically (temp file + rename in the same
// directory), so a SIGHUP'd server never reads a half-written zone.
func WriteZone(path string, z *Zone) error {
	b, err := json.MarshalIndent(z, "", "  ")
	if err != nil {
		return fmt.Errorf("clusterdns: encode zone: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("clusterdns: write zone: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(append(b, '\n'))
	if werr == nil {
		werr = f.Chmod(0o644)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("clusterdns: write zone %s: %w", path, werr)
	}
	return nil
}

// LoadZone reads and validates a zone file written by WriteZone.
func LoadZone(path string) (*Zone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("clusterdns: load zone: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxZoneBytes+1))
	if err != nil {
		return nil, fmt.Errorf("clusterdns: load zone %s: %w", path, err)
	}
	if len(b) > maxZoneBytes {
		return nil, fmt.Errorf("clusterdns: load zone %s: larger than %d bytes", path, maxZoneBytes)
	}
	z, err := parseZone(b)
	if err != nil {
		return nil, fmt.Errorf("clusterdns: load zone %s: %w", path, err)
	}
	return z, nil
}

// parseZone decodes strictly (a typo'd field is an error, not a silently
// missing record) and compiles the zone so that every problem surfaces at load.
func parseZone(b []byte) (*Zone, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	z := &Zone{}
	if err := dec.Decode(z); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode: trailing data after the zone object")
	}
	if err := z.compile(); err != nil {
		return nil, err
	}
	return z, nil
}

// compile builds the lookup index once; Answer calls it too, so a Zone built
// in code needs no extra step.
func (z *Zone) compile() error {
	z.once.Do(func() { z.idx, z.err = buildIndex(z) })
	return z.err
}
