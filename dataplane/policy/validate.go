package policy

import (
	"errors"
	"fmt"
	"net/netip"
)

// Validate rejects policies the evaluator could only guess about: missing names,
// undefined enums, invalid prefixes. The xDS edge NACKs such an update.
func (p *Policy) Validate() error {
	if p == nil {
		return errors.New("policy: nil policy")
	}
	if p.Name == "" {
		return errors.New("policy: empty name")
	}
	if !p.Scope.Valid() {
		return fmt.Errorf("policy %s: invalid scope %v", p.Key(), p.Scope)
	}
	if !p.Action.Valid() {
		return fmt.Errorf("policy %s: invalid action %v", p.Key(), p.Action)
	}
	for ri := range p.Rules {
		for ci := range p.Rules[ri].Clauses {
			for mi := range p.Rules[ri].Clauses[ci].Matches {
				if err := p.Rules[ri].Clauses[ci].Matches[mi].validate(); err != nil {
					return fmt.Errorf("policy %s: rule %d clause %d match %d: %w", p.Key(), ri, ci, mi, err)
				}
			}
		}
	}
	return nil
}

func (m *Match) validate() error {
	for _, l := range [][]StringMatch{
		m.Namespaces, m.NotNamespaces, m.Principals, m.NotPrincipals,
		m.Hosts, m.NotHosts, m.Paths, m.NotPaths, m.RequestPrincipals, m.NotRequestPrincipals,
	} {
		if err := validStrings(l); err != nil {
			return err
		}
	}
	for _, h := range m.Headers {
		if h.Name == "" {
			return errors.New("header match without a name")
		}
		if err := validStrings(h.Values); err != nil {
			return err
		}
		if err := validStrings(h.NotValues); err != nil {
			return err
		}
	}
	for _, l := range [][]netip.Prefix{
		m.SourceIPs, m.NotSourceIPs, m.DestinationIPs, m.NotDestinationIPs, m.RemoteIPs, m.NotRemoteIPs,
	} {
		for _, pr := range l {
			if !pr.IsValid() {
				return fmt.Errorf("invalid prefix %v", pr)
			}
		}
	}
	return nil
}

func validStrings(ms []StringMatch) error {
	for _, sm := range ms {
		if !sm.Kind.Valid() {
			return fmt.Errorf("invalid string match kind %v", sm.Kind)
		}
	}
	return nil
}
