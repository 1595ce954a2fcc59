package kubeproxy

import (
	"fmt"
	"strings"

	"github.com/ambientlab/ambientlab/sim/topology"
)

// Render returns the table Sync would program for services, in nft syntax
// (the shape of "nft list table ip ambientlab-kube-proxy"). The output is
// deterministic: Services are sorted by key, map elements by VIP/protocol/port,
// endpoints by address. Invalid input renders as a comment naming the error.
func Render(services []topology.Service) string {
	rs, err := build(services)
	if err != nil {
		return fmt.Sprintf("# invalid services: %v\n", err)
	}
	return rs.render()
}

func (rs *ruleset) render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {\n", TableName)
	for _, m := range rs.maps {
		fmt.Fprintf(&b, "\tmap %s {\n", m.name)
		b.WriteString("\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n")
		if len(m.elems) > 0 {
			b.WriteString("\t\telements = {\n")
			for _, e := range m.elems {
				fmt.Fprintf(&b, "\t\t\t%s . %s . %d : goto %s,\n", e.vip, e.proto.name, e.port, e.target)
			}
			b.WriteString("\t\t}\n")
		}
		b.WriteString("\t}\n")
	}
	for _, c := range rs.chains {
		fmt.Fprintf(&b, "\n\tchain %s {\n", c.name)
		if c.base != nil {
			fmt.Fprintf(&b, "\t\ttype %s hook %s priority %d; policy accept;\n", c.base.typ, c.base.hookName, c.base.priority)
		}
		for _, r := range c.rules {
			fmt.Fprintf(&b, "\t\t%s\n", r.text)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}
