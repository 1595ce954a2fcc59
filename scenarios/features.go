package scenarios

import (
	"fmt"
	"slices"
)

// FeatureName is a typed feature, as Gateway API conformance names features.
// Each belongs to exactly one profile, as core or extended, and needs a set of
// capabilities; a scenario that exercises a feature therefore needs them too.
type FeatureName string

// Simulator base (SMOKE).
const (
	SimulatorServices     FeatureName = "SimulatorServices"
	SimulatorDNS          FeatureName = "SimulatorDNS"
	SimulatorHeadless     FeatureName = "SimulatorHeadless"
	SimulatorNamedPorts   FeatureName = "SimulatorNamedPorts"
	SimulatorTCP          FeatureName = "SimulatorTCP"
	SimulatorH2C          FeatureName = "SimulatorH2C"
	SimulatorRuntimeApply FeatureName = "SimulatorRuntimeApply"
	SimulatorPlacement    FeatureName = "SimulatorPlacement"
)

// Ambient L4 (ztunnel).
const (
	AmbientCapture               FeatureName = "AmbientCapture"
	L4AuthorizationAllow         FeatureName = "L4AuthorizationAllow"
	L4AuthorizationDeny          FeatureName = "L4AuthorizationDeny"
	L4AuthorizationNamespaces    FeatureName = "L4AuthorizationNamespaces"
	L4AuthorizationIPBlocks      FeatureName = "L4AuthorizationIPBlocks"
	L4AuthorizationPorts         FeatureName = "L4AuthorizationPorts"
	L4AuthorizationRootNamespace FeatureName = "L4AuthorizationRootNamespace"
	PeerAuthenticationStrict     FeatureName = "PeerAuthenticationStrict"
	PeerAuthenticationPermissive FeatureName = "PeerAuthenticationPermissive"
	PeerAuthenticationPortLevel  FeatureName = "PeerAuthenticationPortLevel"
	AmbientHeadlessServices      FeatureName = "AmbientHeadlessServices"
)

// Ambient L7 (waypoint).
const (
	Waypoint              FeatureName = "Waypoint"
	L7AuthorizationPath   FeatureName = "L7AuthorizationPath"
	RequestAuthentication FeatureName = "RequestAuthentication"
	// L7 routing at the waypoint: GAMMA HTTPRoute and VirtualService.
	L7TrafficSplit   FeatureName = "L7TrafficSplit"
	L7HeaderRouting  FeatureName = "L7HeaderRouting"
	L7FaultInjection FeatureName = "L7FaultInjection"
	L7Retries        FeatureName = "L7Retries"
)

// HBONE wire.
const (
	HBONEMutualTLS        FeatureName = "HBONEMutualTLS"
	HBONENoPlaintextWire  FeatureName = "HBONENoPlaintextWire"
	HBONEPeerIdentitySeen FeatureName = "HBONEPeerIdentitySeen"
)

// Sidecar interop.
const (
	SidecarInterop        FeatureName = "SidecarInterop"
	SidecarAmbientCoexist FeatureName = "SidecarAmbientCoexist"
)

// Resilience.
const (
	ResilienceBackendChurn FeatureName = "ResilienceBackendChurn"
)

type featureInfo struct {
	profile  Profile
	core     bool
	requires []Capability
}

var features = map[FeatureName]featureInfo{
	SimulatorServices:     {ProfileSmoke, true, []Capability{CapServices}},
	SimulatorDNS:          {ProfileSmoke, true, []Capability{CapDNS}},
	SimulatorHeadless:     {ProfileSmoke, false, []Capability{CapDNS}},
	SimulatorNamedPorts:   {ProfileSmoke, false, []Capability{CapServices}},
	SimulatorTCP:          {ProfileSmoke, false, []Capability{CapServices}},
	SimulatorH2C:          {ProfileSmoke, false, []Capability{CapServices}},
	SimulatorRuntimeApply: {ProfileSmoke, false, []Capability{CapServices, CapDNS}},
	SimulatorPlacement:    {ProfileSmoke, false, nil},

	AmbientCapture:               {ProfileAmbientL4, true, []Capability{CapZtunnel}},
	L4AuthorizationAllow:         {ProfileAmbientL4, true, []Capability{CapZtunnel}},
	L4AuthorizationDeny:          {ProfileAmbientL4, true, []Capability{CapZtunnel}},
	PeerAuthenticationStrict:     {ProfileAmbientL4, true, []Capability{CapZtunnel}},
	L4AuthorizationNamespaces:    {ProfileAmbientL4, false, []Capability{CapZtunnel}},
	L4AuthorizationIPBlocks:      {ProfileAmbientL4, false, []Capability{CapZtunnel}},
	L4AuthorizationPorts:         {ProfileAmbientL4, false, []Capability{CapZtunnel}},
	L4AuthorizationRootNamespace: {ProfileAmbientL4, false, []Capability{CapZtunnel}},
	PeerAuthenticationPermissive: {ProfileAmbientL4, false, []Capability{CapZtunnel}},
	PeerAuthenticationPortLevel:  {ProfileAmbientL4, false, []Capability{CapZtunnel}},
	AmbientHeadlessServices:      {ProfileAmbientL4, false, []Capability{CapZtunnel, CapDNS}},

	Waypoint:              {ProfileAmbientL7, true, []Capability{CapZtunnel, CapWaypoint}},
	L7AuthorizationPath:   {ProfileAmbientL7, true, []Capability{CapZtunnel, CapWaypoint}},
	RequestAuthentication: {ProfileAmbientL7, false, []Capability{CapZtunnel, CapWaypoint}},
	L7TrafficSplit:        {ProfileAmbientL7, true, []Capability{CapZtunnel, CapWaypoint}},
	L7HeaderRouting:       {ProfileAmbientL7, true, []Capability{CapZtunnel, CapWaypoint}},
	L7FaultInjection:      {ProfileAmbientL7, false, []Capability{CapZtunnel, CapWaypoint}},
	L7Retries:             {ProfileAmbientL7, false, []Capability{CapZtunnel, CapWaypoint}},

	HBONEMutualTLS:        {ProfileHBONE, true, []Capability{CapZtunnel}},
	HBONENoPlaintextWire:  {ProfileHBONE, true, []Capability{CapZtunnel, CapPacketCapture}},
	HBONEPeerIdentitySeen: {ProfileHBONE, false, []Capability{CapZtunnel, CapMTLSIdentity}},

	SidecarInterop:        {ProfileSidecarInterop, true, []Capability{CapZtunnel, CapSidecar}},
	SidecarAmbientCoexist: {ProfileSidecarInterop, true, []Capability{CapZtunnel, CapSidecar}},

	ResilienceBackendChurn: {ProfileResilience, false, []Capability{CapServices, CapDNS}},
}

// AllFeatures lists every feature, sorted.
func AllFeatures() []FeatureName {
	out := make([]FeatureName, 0, len(features))
	for f := range features {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

func (f FeatureName) String() string { return string(f) }

// ParseFeature parses a feature name.
func ParseFeature(s string) (FeatureName, error) {
	if _, ok := features[FeatureName(s)]; ok {
		return FeatureName(s), nil
	}
	return "", fmt.Errorf("unknown feature %q (see docs/scenarios.md#features)", s)
}

// Profile returns the profile the feature belongs to.
func (f FeatureName) Profile() Profile { return features[f].profile }

// Core reports whether the feature is core (every implementation of the
// profile must pass it) rather than extended.
func (f FeatureName) Core() bool { return features[f].core }

// Requires returns the capabilities the feature needs.
func (f FeatureName) Requires() []Capability { return slices.Clone(features[f].requires) }

// ProfileFeatures returns a profile's core and extended features, sorted.
func ProfileFeatures(p Profile) (core, extended []FeatureName) {
	for _, f := range AllFeatures() {
		if features[f].profile != p {
			continue
		}
		if features[f].core {
			core = append(core, f)
		} else {
			extended = append(extended, f)
		}
	}
	return core, extended
}
