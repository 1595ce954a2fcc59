package echo

import (
	"strconv"
	"sync"
)

// maxSourcesPerPort bounds the per-source map: a scan from many addresses must
// not grow the workload's memory without limit. Sources beyond it are counted
// under overflowSource.
const maxSourcesPerPort = 4096

const overflowSource = "other"

// Stats counts HTTP requests and TCP connections per listener port and per
// source IP, so tests can assert what a workload did (or did not) receive.
type Stats struct {
	mu    sync.Mutex
	ports map[uint16]*portStats
}

type portStats struct {
	protocol string
	total    uint64
	bySource map[string]uint64
}

// StatsSnapshot is the JSON served at /__ambientlab/stats.
type StatsSnapshot struct {
	// Ports is keyed by the listener port number (as a string, for JSON).
	Ports map[string]PortSnapshot `json:"ports"`
	// BySource sums every port's counts per source IP.
	BySource map[string]uint64 `json:"by_source"`
	Total    uint64            `json:"total"`
}

// PortSnapshot counts one port: requests for "http", connections for "tcp".
type PortSnapshot struct {
	Protocol string            `json:"protocol"`
	Total    uint64            `json:"total"`
	BySource map[string]uint64 `json:"by_source"`
}

// NewStats returns empty counters.
func NewStats() *Stats { return &Stats{ports: make(map[uint16]*portStats)} }

// Record counts one request or connection from sourceIP on port.
func (s *Stats) Record(port uint16, protocol, sourceIP string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.ports[port]
	if ps == nil {
		ps = &portStats{protocol: protocol, bySource: make(map[string]uint64)}
		s.ports[port] = ps
	}
	ps.total++
	if _, ok := ps.bySource[sourceIP]; !ok && len(ps.bySource) >= maxSourcesPerPort {
		sourceIP = overflowSource
	}
	ps.bySource[sourceIP]++
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := StatsSnapshot{Ports: make(map[string]PortSnapshot, len(s.ports)), BySource: make(map[string]uint64)}
	for port, ps := range s.ports {
		src := make(map[string]uint64, len(ps.bySource))
		for ip, n := range ps.bySource {
			src[ip] = n
			out.BySource[ip] += n
		}
		out.Ports[strconv.Itoa(int(port))] = PortSnapshot{Protocol: ps.protocol, Total: ps.total, BySource: src}
		out.Total += ps.total
	}
	return out
}
