package redirect

import (
	"fmt"
	"slices"
	"strings"
)

// Render returns the nft transaction Apply programs for opts, in the syntax of
// istio's golden files (cni/pkg/nftables/testdata/*.golden): for each table
// with rules "add table", "flush table", its chains and its rules. Tables that
// opts leave without rules (the raw table without DNS capture) end the
// transaction with "add table" + "delete table": Apply removes what an earlier
// Apply with other options created, which istio-cni never needs to do because
// it applies once per pod.
func Render(opts Options) string {
	var b strings.Builder
	present := build(opts)
	for _, t := range present {
		fmt.Fprintf(&b, "add table inet %s\n", t.name)
		fmt.Fprintf(&b, "flush table inet %s\n", t.name)
		for _, c := range t.chains {
			if c.hook != nil {
				fmt.Fprintf(&b, "add chain inet %s %s { type %s hook %s priority %d ; }\n", t.name, c.name, c.typ, c.hookName, c.priority)
			} else {
				fmt.Fprintf(&b, "add chain inet %s %s\n", t.name, c.name)
			}
		}
		for _, r := range t.rules {
			fmt.Fprintf(&b, "add rule inet %s %s %s\n", t.name, r.chain, r.text)
		}
	}
	for _, name := range absentTables(present) {
		fmt.Fprintf(&b, "add table inet %s\n", name)
		fmt.Fprintf(&b, "delete table inet %s\n", name)
	}
	return b.String()
}

func absentTables(present []table) []string {
	var out []string
	for _, name := range tableNames {
		if !slices.ContainsFunc(present, func(t table) bool { return t.name == name }) {
			out = append(out, name)
		}
	}
	return out
}
