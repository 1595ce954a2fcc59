package kubeproxy

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/ambientlab/ambientlab/internal/testutil/nstest"
	"github.com/ambientlab/ambientlab/sim/topology"
)

var (
	podAIP = netip.MustParseAddr("198.19.0.2")
	podBIP = netip.MustParseAddr("198.19.0.3")
	vipWeb = netip.MustParseAddr("198.18.16.20")
	vipDNS = netip.MustParseAddr("198.18.16.10")
	vipA   = netip.MustParseAddr("198.18.16.21") // only pod A behind it: hairpin
	vipNil = netip.MustParseAddr("198.18.16.22") // no endpoints
)

// world is one node with pods A and B, each running a TCP echo on 8080 that
// answers "<pod> <remote ip>" and a UDP echo on 5353 that answers "<pod>".
type world struct {
	node, podA, podB int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	nstest.RequireRoot(t)
	w := &world{node: nstest.NewNetns(t), podA: nstest.NewNetns(t), podB: nstest.NewNetns(t)}
	nstest.SetupNode(t, w.node, topology.DefaultAddressPlan().ServiceCIDR)
	nstest.AddPod(t, w.node, w.podA, "veth-a", podAIP)
	nstest.AddPod(t, w.node, w.podB, "veth-b", podBIP)
	serveEcho(t, w.podA, "a")
	serveEcho(t, w.podB, "b")
	return w
}

func serveEcho(t *testing.T, pod int, name string) {
	t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	nstest.InNetns(t, pod, func() {
		var err error
		ln, err = net.Listen("tcp4", "0.0.0.0:8080")
		nstest.Must(t, err)
		pc, err = net.ListenPacket("udp4", "0.0.0.0:5353")
		nstest.Must(t, err)
	})
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); pc.Close(); wg.Wait() })
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			remote := c.RemoteAddr().(*net.TCPAddr).IP
			fmt.Fprintf(c, "%s %s\n", name, remote)
			c.Close()
		}
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 512)
		for {
			_, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(name), addr)
		}
	}()
}

func endpoint(pod string, ip netip.Addr) topology.Endpoint {
	return topology.Endpoint{Pod: pod, IP: ip, TargetPorts: map[string]uint16{"http": 8080, "dns": 5353}}
}

func services(webEndpoints ...topology.Endpoint) []topology.Service {
	http := []topology.ServicePort{{Name: "http", Port: 80, Protocol: topology.ProtocolTCP, TargetPortName: "http"}}
	return []topology.Service{
		{Namespace: "default", Name: "web", ClusterIP: vipWeb, Ports: http, Endpoints: webEndpoints},
		{Namespace: "default", Name: "only-a", ClusterIP: vipA, Ports: http, Endpoints: []topology.Endpoint{endpoint("default/a", podAIP)}},
		{Namespace: "default", Name: "nothing", ClusterIP: vipNil, Ports: http},
		{Namespace: "kube-system", Name: "kube-dns", ClusterIP: vipDNS,
			Ports:     []topology.ServicePort{{Name: "dns", Port: 53, Protocol: topology.ProtocolUDP, TargetPortName: "dns"}},
			Endpoints: []topology.Endpoint{endpoint("kube-system/b", podBIP)}},
		{Namespace: "default", Name: "headless", Headless: true, Ports: http},
	}
}

// dialEcho connects from the namespace to dst and returns the echo's answer.
func dialEcho(t *testing.T, ns int, dst netip.AddrPort, n int) (answers []string, err error) {
	t.Helper()
	nstest.InNetns(t, ns, func() {
		for range n {
			var c net.Conn
			c, err = net.DialTimeout("tcp4", dst.String(), 2*time.Second)
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(2 * time.Second))
			var line string
			line, err = bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err != nil {
				return
			}
			answers = append(answers, strings.TrimSpace(line))
		}
	})
	return answers, err
}

func TestTrafficThroughVIPs(t *testing.T) {
	w := newWorld(t)
	both := []topology.Endpoint{endpoint("default/a", podAIP), endpoint("default/b", podBIP)}
	nstest.Must(t, Sync(w.node, services(both...)))
	nstest.Must(t, Sync(w.node, services(both...))) // idempotent resync

	t.Run("load balanced with source preserved", func(t *testing.T) {
		answers, err := dialEcho(t, w.podA, netip.AddrPortFrom(vipWeb, 80), 200)
		nstest.Must(t, err)
		count := map[string]int{}
		for _, a := range answers {
			count[a]++
		}
		// Connections landing on B show A's own address (no SNAT); those landing
		// on A itself are hairpin and must be masqueraded.
		fromA := count["b "+podAIP.String()]
		hairpin := 200 - fromA
		if fromA < 40 || hairpin < 40 {
			t.Errorf("distribution %v: want each backend ≥ 20%% of 200", count)
		}
		if count["a "+podAIP.String()] != 0 {
			t.Errorf("hairpin connection arrived with the pod's own source address: %v", count)
		}
	})

	t.Run("hairpin", func(t *testing.T) {
		answers, err := dialEcho(t, w.podA, netip.AddrPortFrom(vipA, 80), 3)
		nstest.Must(t, err)
		for _, a := range answers {
			name, src, _ := strings.Cut(a, " ")
			if name != "a" || src == podAIP.String() {
				t.Errorf("hairpin answer %q: want pod a, masqueraded source", a)
			}
		}
	})

	t.Run("from the node itself", func(t *testing.T) {
		answers, err := dialEcho(t, w.node, netip.AddrPortFrom(vipA, 80), 1)
		nstest.Must(t, err)
		if len(answers) != 1 || !strings.HasPrefix(answers[0], "a ") {
			t.Errorf("node → VIP answers %v", answers)
		}
	})

	t.Run("UDP", func(t *testing.T) {
		var got string
		nstest.InNetns(t, w.podA, func() {
			c, err := net.Dial("udp4", netip.AddrPortFrom(vipDNS, 53).String())
			nstest.Must(t, err)
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			_, err = c.Write([]byte("q"))
			nstest.Must(t, err)
			buf := make([]byte, 16)
			n, err := c.Read(buf)
			nstest.Must(t, err)
			got = string(buf[:n])
		})
		if got != "b" {
			t.Errorf("UDP VIP answered %q, want b", got)
		}
	})

	t.Run("no endpoints is refused fast", func(t *testing.T) {
		start := time.Now()
		_, err := dialEcho(t, w.podA, netip.AddrPortFrom(vipNil, 80), 1)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial to Service without endpoints: %v, want ECONNREFUSED", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("refusal took %v", d)
		}
	})

	t.Run("resync removes an endpoint", func(t *testing.T) {
		nstest.Must(t, Sync(w.node, services(endpoint("default/b", podBIP))))
		answers, err := dialEcho(t, w.podA, netip.AddrPortFrom(vipWeb, 80), 30)
		nstest.Must(t, err)
		for _, a := range answers {
			if !strings.HasPrefix(a, "b ") {
				t.Fatalf("connection after resync reached %q", a)
			}
		}
	})
}

// TestKernelMatchesRender checks that what reached the kernel has the shape
// Render prints: every chain, the rule count per chain and the map sizes.
func TestKernelMatchesRender(t *testing.T) {
	nstest.RequireRoot(t)
	node := nstest.NewNetns(t)
	svcs := fixtureServices()
	rs, err := build(svcs)
	nstest.Must(t, err)
	nstest.Must(t, Sync(node, svcs))

	conn, err := nftables.New(nftables.WithNetNSFd(node))
	nstest.Must(t, err)
	tbl := table()
	for _, c := range rs.chains {
		rules, err := conn.GetRules(tbl, &nftables.Chain{Name: c.name, Table: tbl})
		if err != nil {
			t.Fatalf("chain %s: %v", c.name, err)
		}
		if len(rules) != len(c.rules) {
			t.Errorf("chain %s: %d rules in kernel, %d rendered", c.name, len(rules), len(c.rules))
		}
	}
	for _, m := range rs.maps {
		set, err := conn.GetSetByName(tbl, m.name)
		nstest.Must(t, err)
		elems, err := conn.GetSetElements(set)
		nstest.Must(t, err)
		if len(elems) != len(m.elems) {
			t.Errorf("map %s: %d elements in kernel, %d rendered", m.name, len(elems), len(m.elems))
		}
	}

	nstest.Must(t, Delete(node))
	nstest.Must(t, Delete(node)) // idempotent
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	nstest.Must(t, err)
	if len(tables) != 0 {
		t.Errorf("tables left after Delete: %v", tables[0].Name)
	}
}

func BenchmarkSync1000Services(b *testing.B) {
	nstest.RequireRoot(b)
	node := nstest.NewNetns(b)
	plan := topology.DefaultAddressPlan()
	svcs := make([]topology.Service, 1000)
	for i := range svcs {
		var eps []topology.Endpoint
		for j := range 3 {
			eps = append(eps, topology.Endpoint{Pod: fmt.Sprintf("ns/p%d-%d", i, j), IP: plan.PodIP(j, i%250),
				TargetPorts: map[string]uint16{"http": 8080}})
		}
		svcs[i] = topology.Service{Namespace: "ns", Name: fmt.Sprintf("svc-%d", i), ClusterIP: plan.ServiceIP(i),
			Ports:     []topology.ServicePort{{Name: "http", Port: 80, Protocol: topology.ProtocolTCP, TargetPortName: "http"}},
			Endpoints: eps}
	}
	for b.Loop() {
		if err := Sync(node, svcs); err != nil {
			b.Fatal(err)
		}
	}
}
