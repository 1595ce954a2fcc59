package kubeproxy

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"

	"github.com/ambientlab/ambientlab/sim/topology"
)

// Sync makes the kube-proxy table in the network namespace nsFd match
// services exactly. It is a full resync in one atomic netlink batch: the table
// is ensured, deleted and recreated in a single transaction, so readers never
// see a half-programmed table and a failed Sync leaves the previous one in
// place. Call it again whenever Services or endpoints change; removing all
// Services leaves an empty (rule-free) table. nsFd is only borrowed.
func Sync(nsFd int, services []topology.Service) error {
	rs, err := build(services)
	if err != nil {
		return fmt.Errorf("kubeproxy: %w", err)
	}
	conn, err := nftables.New(nftables.WithNetNSFd(nsFd), largeBatch())
	if err != nil {
		return fmt.Errorf("kubeproxy: netlink connection to netns fd %d: %w", nsFd, err)
	}
	if err := rs.queue(conn); err != nil {
		return fmt.Errorf("kubeproxy: %w", err)
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("kubeproxy: programming table %s in netns fd %d: %w", TableName, nsFd, err)
	}
	return nil
}

// Delete removes the kube-proxy table from the namespace; it is idempotent.
func Delete(nsFd int) error {
	conn, err := nftables.New(nftables.WithNetNSFd(nsFd), largeBatch())
	if err != nil {
		return fmt.Errorf("kubeproxy: netlink connection to netns fd %d: %w", nsFd, err)
	}
	t := table()
	// Adding first makes the delete valid whether or not the table exists,
	// the same trick istio-cni uses (cni/pkg/nftables/nftables.go DeleteInpodRules).
	conn.AddTable(t)
	conn.DelTable(t)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("kubeproxy: deleting table %s in netns fd %d: %w", TableName, nsFd, err)
	}
	return nil
}

func table() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyIPv4, Name: TableName}
}

var serviceKeyType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)

// queue adds the whole table to conn's pending batch. Order matters inside the
// transaction: chains before the maps whose elements jump to them, maps before
// the rules that look them up.
func (rs *ruleset) queue(conn *nftables.Conn) error {
	t := table()
	conn.AddTable(t)
	conn.DelTable(t)
	conn.AddTable(t)

	chains := make(map[string]*nftables.Chain, len(rs.chains))
	for _, c := range rs.chains {
		nc := &nftables.Chain{Name: c.name, Table: t}
		if c.base != nil {
			nc.Type = c.base.typ
			nc.Hooknum = c.base.hook
			nc.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(c.base.priority))
		}
		chains[c.name] = conn.AddChain(nc)
	}

	// Set IDs only need to be unique within one batch. Assigning them here
	// (instead of letting the library use its unsynchronised package counter)
	// keeps concurrent Syncs into different namespaces race-free.
	var nextSetID uint32
	sets := make(map[string]*nftables.Set, len(rs.maps))
	for _, m := range rs.maps {
		nextSetID++
		s := &nftables.Set{Table: t, ID: nextSetID, Name: m.name, IsMap: true, Concatenation: true,
			KeyType: serviceKeyType, DataType: nftables.TypeVerdict}
		elems := make([]nftables.SetElement, len(m.elems))
		for i, e := range m.elems {
			elems[i] = nftables.SetElement{Key: serviceKey(e), VerdictData: verdictGoto(e.target)}
		}
		if err := conn.AddSet(s, elems); err != nil {
			return fmt.Errorf("map %s: %w", m.name, err)
		}
		sets[m.name] = s
	}

	for _, c := range rs.chains {
		for _, r := range c.rules {
			exprs := r.exprs
			switch {
			case r.mapName != "":
				s := sets[r.mapName]
				exprs = append(exprs[:len(exprs):len(exprs)], lookup(s))
			case r.gotos != nil:
				nextSetID++
				s := &nftables.Set{Table: t, ID: nextSetID, Name: "__map%d", Anonymous: true, Constant: true,
					IsMap: true, KeyType: nftables.TypeInteger, DataType: nftables.TypeVerdict}
				elems := make([]nftables.SetElement, len(r.gotos))
				for i, g := range r.gotos {
					elems[i] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)), VerdictData: verdictGoto(g)}
				}
				if err := conn.AddSet(s, elems); err != nil {
					return fmt.Errorf("chain %s: anonymous map: %w", c.name, err)
				}
				exprs = append(exprs[:len(exprs):len(exprs)], lookup(s))
			}
			conn.AddRule(&nftables.Rule{Table: t, Chain: chains[c.name], Exprs: exprs})
		}
	}
	return nil
}

func lookup(s *nftables.Set) *expr.Lookup {
	return &expr.Lookup{SourceRegister: reg1, DestRegister: verdictRg, IsDestRegSet: true, SetID: s.ID, SetName: s.Name}
}

// serviceKey encodes "ipv4_addr . inet_proto . inet_service"; each field of a
// concatenation is padded to a 32-bit register.
func serviceKey(e mapElem) []byte {
	ip := e.vip.As4()
	key := make([]byte, 12)
	copy(key[0:4], ip[:])
	key[4] = e.proto.number
	copy(key[8:10], binaryutil.BigEndian.PutUint16(e.port))
	return key
}
