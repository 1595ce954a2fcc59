package ztunnel

import "fmt"

// Direction is which side of the proxy a connection was accepted on.
type Direction uint8

const (
	DirectionOutbound Direction = iota + 1
	DirectionInbound
)

func (d Direction) String() string {
	switch d {
	case DirectionOutbound:
		return "outbound"
	case DirectionInbound:
		return "inbound"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// Reporter is the metrics `reporter` label: ztunnel reports outbound
// connections as the source and inbound ones as the destination.
type Reporter uint8

const (
	ReporterSource Reporter = iota + 1
	ReporterDestination
)

func (r Reporter) String() string {
	switch r {
	case ReporterSource:
		return "source"
	case ReporterDestination:
		return "destination"
	}
	return fmt.Sprintf("Reporter(%d)", uint8(r))
}

// ResponseFlag is the `response_flags` label (ambient-semantics.md §13).
type ResponseFlag uint8

const (
	FlagNone ResponseFlag = iota + 1
	FlagDeny
	FlagConnect
	FlagTLSFailure
	FlagIdentityError
)

var responseFlagNames = [...]string{FlagNone: "-", FlagDeny: "DENY", FlagConnect: "CONNECT",
	FlagTLSFailure: "TLS_FAILURE", FlagIdentityError: "IDENTITY_ERROR"}

func (f ResponseFlag) String() string {
	if f >= FlagNone && int(f) < len(responseFlagNames) {
		return responseFlagNames[f]
	}
	return fmt.Sprintf("ResponseFlag(%d)", uint8(f))
}

// SecurityPolicy is the `connection_security_policy` label: mutual_tls for
// HBONE (and the same-node fast path, which has its semantics), unknown for
// plaintext.
type SecurityPolicy uint8

const (
	SecurityUnknown SecurityPolicy = iota + 1
	SecurityMutualTLS
)

func (s SecurityPolicy) String() string {
	switch s {
	case SecurityUnknown:
		return "unknown"
	case SecurityMutualTLS:
		return "mutual_tls"
	}
	return fmt.Sprintf("SecurityPolicy(%d)", uint8(s))
}
