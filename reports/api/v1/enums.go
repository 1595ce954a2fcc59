package v1

import "fmt"

// Outcome is how one test ended: the closed result classes of Gateway API's
// suite (SUCCEEDED, FAILED, SKIPPED, NOT_SUPPORTED, PROVISIONAL_SKIPPED).
type Outcome string

const (
	Succeeded          Outcome = "SUCCEEDED"
	Failed             Outcome = "FAILED"
	Skipped            Outcome = "SKIPPED"
	NotSupported       Outcome = "NOT_SUPPORTED"
	ProvisionalSkipped Outcome = "PROVISIONAL_SKIPPED"
)

// Outcomes lists every Outcome in a stable order.
var Outcomes = []Outcome{Succeeded, Failed, Skipped, NotSupported, ProvisionalSkipped}

func (o Outcome) String() string { return string(o) }

// IsSkip reports whether the test did not run to a verdict. Skips are counted
// as Skipped, never as Passed, and each carries a Reason.
func (o Outcome) IsSkip() bool {
	return o == Skipped || o == NotSupported || o == ProvisionalSkipped
}

// ParseOutcome parses an Outcome; unknown values are errors, not passes.
func ParseOutcome(s string) (Outcome, error) {
	for _, o := range Outcomes {
		if s == string(o) {
			return o, nil
		}
	}
	return "", fmt.Errorf("unknown test outcome %q (want one of %v)", s, Outcomes)
}

// UnmarshalText makes decoding reject unknown outcomes.
func (o *Outcome) UnmarshalText(b []byte) error {
	p, err := ParseOutcome(string(b))
	if err != nil {
		return err
	}
	*o = p
	return nil
}

// EvidenceKind says what an Evidence item points at.
type EvidenceKind string

const (
	EvidenceProbe      EvidenceKind = "probe"       // a probe's outcome (reachable, denied with reason, peer identity)
	EvidencePcap       EvidenceKind = "pcap"        // a packet capture
	EvidenceAccessLog  EvidenceKind = "access-log"  // an access-log excerpt
	EvidenceConfigDump EvidenceKind = "config-dump" // a proxy's config dump
	EvidenceRuleDump   EvidenceKind = "rule-dump"   // iptables/nft/ip-rule state of a netns
	EvidenceHistogram  EvidenceKind = "histogram"   // an encoded latency histogram
	EvidenceMetrics    EvidenceKind = "metrics"     // a Prometheus scrape
	EvidenceLog        EvidenceKind = "log"         // a component log
)

// EvidenceKinds lists every EvidenceKind in a stable order.
var EvidenceKinds = []EvidenceKind{
	EvidenceProbe, EvidencePcap, EvidenceAccessLog, EvidenceConfigDump,
	EvidenceRuleDump, EvidenceHistogram, EvidenceMetrics, EvidenceLog,
}

func (k EvidenceKind) String() string { return string(k) }

// ParseEvidenceKind parses an EvidenceKind.
func ParseEvidenceKind(s string) (EvidenceKind, error) {
	for _, k := range EvidenceKinds {
		if s == string(k) {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown evidence kind %q (want one of %v)", s, EvidenceKinds)
}

// UnmarshalText makes decoding reject unknown kinds.
func (k *EvidenceKind) UnmarshalText(b []byte) error {
	p, err := ParseEvidenceKind(string(b))
	if err != nil {
		return err
	}
	*k = p
	return nil
}

// Proxy names a hop that handles mesh traffic. Who enforced a policy is the
// most confusing part of ambient (istio.io#15006), so reports name it.
type Proxy string

const (
	SourceZtunnel      Proxy = "source-ztunnel"
	DestinationZtunnel Proxy = "destination-ztunnel"
	Waypoint           Proxy = "waypoint"
	Sidecar            Proxy = "sidecar"
	IngressGateway     Proxy = "ingress-gateway"
)

// Proxies lists every Proxy in a stable order.
var Proxies = []Proxy{SourceZtunnel, DestinationZtunnel, Waypoint, Sidecar, IngressGateway}

func (p Proxy) String() string { return string(p) }

// ParseProxy parses a Proxy.
func ParseProxy(s string) (Proxy, error) {
	for _, p := range Proxies {
		if s == string(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown proxy %q (want one of %v)", s, Proxies)
}

// UnmarshalText makes decoding reject unknown proxies.
func (p *Proxy) UnmarshalText(b []byte) error {
	q, err := ParseProxy(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// Backend is the environment the data plane ran in.
type Backend string

const (
	BackendNetns Backend = "netns" // the built-in simulator: network namespaces on one host
	BackendKind  Backend = "kind"  // a kind cluster
)

// Backends lists every Backend in a stable order.
var Backends = []Backend{BackendNetns, BackendKind}

func (b Backend) String() string { return string(b) }

// ParseBackend parses a Backend.
func ParseBackend(s string) (Backend, error) {
	for _, b := range Backends {
		if s == string(b) {
			return b, nil
		}
	}
	return "", fmt.Errorf("unknown backend %q (want one of %v)", s, Backends)
}

// UnmarshalText makes decoding reject unknown backends.
func (b *Backend) UnmarshalText(t []byte) error {
	p, err := ParseBackend(string(t))
	if err != nil {
		return err
	}
	*b = p
	return nil
}
