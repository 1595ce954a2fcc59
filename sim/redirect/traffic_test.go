package redirect

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ambientlab/ambientlab/dataplane/sockets"
	"github.com/ambientlab/ambientlab/internal/testutil/nstest"
	"github.com/ambientlab/ambientlab/sim/topology"
)

var (
	podPIP = netip.MustParseAddr("198.19.0.2") // the captured pod
	podQIP = netip.MustParseAddr("198.19.0.3") // a plain peer
)

// serveTCP answers every connection with "<label> <original dst>".
func serveTCP(t *testing.T, ns int, port uint16, label string) {
	t.Helper()
	var ln net.Listener
	nstest.InNetns(t, ns, func() {
		var err error
		ln, err = net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", port))
		nstest.Must(t, err)
	})
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dst, err := sockets.OriginalDst(c.(*net.TCPConn))
			if err != nil {
				fmt.Fprintf(c, "%s error:%v\n", label, err)
			} else {
				fmt.Fprintf(c, "%s %s\n", label, dst)
			}
			c.Close()
		}
	}()
}

// ask dials dst from ns (with SO_MARK mark when non-zero) and returns the answer.
func ask(t *testing.T, ns int, dst netip.AddrPort, mark int) string {
	t.Helper()
	return askFrom(t, ns, netip.Addr{}, dst, mark)
}

// askFrom is ask with an explicit source address (when valid).
func askFrom(t *testing.T, ns int, src netip.Addr, dst netip.AddrPort, mark int) string {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		if mark == 0 {
			return nil
		}
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, mark) }); err != nil {
			return err
		}
		return serr
	}}
	if src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice()}
	}
	var line string
	nstest.InNetns(t, ns, func() {
		c, err := d.Dial("tcp4", dst.String())
		if err != nil {
			line = "dial error: " + err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		line, err = bufio.NewReader(c).ReadString('\n')
		if err != nil {
			line = "read error: " + err.Error()
		}
	})
	return strings.TrimSpace(line)
}

func expectAnswer(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("answer %q, want %q", got, want)
	}
}

func TestInPodRedirection(t *testing.T) {
	nstest.RequireRoot(t)
	node, pod, peer := nstest.NewNetns(t), nstest.NewNetns(t), nstest.NewNetns(t)
	nstest.SetupNode(t, node, topology.DefaultAddressPlan().ServiceCIDR)
	nstest.AddPod(t, node, pod, "veth-p", podPIP)
	nstest.AddPod(t, node, peer, "veth-q", podQIP)
	serveTCP(t, pod, ZtunnelOutboundPort, "outbound")
	serveTCP(t, pod, ZtunnelInboundPlaintextPort, "inbound")
	serveTCP(t, pod, ZtunnelInboundPort, "hbone")
	serveTCP(t, pod, 8080, "pod-app")
	serveTCP(t, peer, 8080, "peer-app")
	toPeer := netip.AddrPortFrom(podQIP, 8080)
	toPod := netip.AddrPortFrom(podPIP, 8080)

	nstest.Must(t, Apply(pod, Options{}))
	nstest.Must(t, Apply(pod, Options{})) // idempotent
	if n := countPolicyRouting(t, pod); n != 2 {
		t.Fatalf("after Apply: %d of {fwmark rule, table-100 route} present, want 2", n)
	}

	t.Run("outbound is captured on 15001 with the original destination", func(t *testing.T) {
		expectAnswer(t, ask(t, pod, toPeer, 0), "outbound "+toPeer.String())
	})
	t.Run("ztunnel's mark bypasses capture", func(t *testing.T) {
		// The peer has no conntrack (no NAT hooks), so it cannot report an
		// original destination; reaching peer-app at all is the point.
		if got := ask(t, pod, toPeer, InpodMark); !strings.HasPrefix(got, "peer-app ") {
			t.Errorf("marked connection answered %q, want peer-app", got)
		}
	})
	t.Run("inbound is captured on 15006 with the original destination", func(t *testing.T) {
		expectAnswer(t, ask(t, peer, toPod, 0), "inbound "+toPod.String())
	})
	t.Run("inbound HBONE on 15008 is not redirected", func(t *testing.T) {
		hbone := netip.AddrPortFrom(podPIP, ZtunnelInboundPort)
		expectAnswer(t, ask(t, peer, hbone, 0), "hbone "+hbone.String())
	})
	t.Run("node probes from the SNAT address are not captured", func(t *testing.T) {
		addProbeSource(t, node, peer)
		if got := askFrom(t, peer, DefaultProbeSNAT, toPod, 0); !strings.HasPrefix(got, "pod-app ") {
			t.Errorf("probe answered %q, want pod-app", got)
		}
	})
	t.Run("the pod calling its own IP stays on lo", func(t *testing.T) {
		expectAnswer(t, ask(t, pod, toPod, 0), "pod-app "+toPod.String())
	})

	t.Run("DNS capture", func(t *testing.T) {
		nstest.Must(t, Apply(pod, Options{DNSCapture: true}))
		if !hasTable(t, pod, RawTable) {
			t.Fatal("raw table missing with DNS capture")
		}
		var dns net.PacketConn
		nstest.InNetns(t, pod, func() {
			var err error
			dns, err = net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", DNSCapturePort))
			nstest.Must(t, err)
		})
		defer dns.Close()
		nstest.InNetns(t, pod, func() {
			c, err := net.Dial("udp4", netip.AddrPortFrom(podQIP, 53).String())
			nstest.Must(t, err)
			defer c.Close()
			_, err = c.Write([]byte("query"))
			nstest.Must(t, err)
		})
		dns.SetDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 16)
		n, _, err := dns.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "query" {
			t.Errorf("DNS query not captured on %d: %q, %v", DNSCapturePort, buf[:n], err)
		}
		nstest.Must(t, Apply(pod, Options{}))
		if hasTable(t, pod, RawTable) {
			t.Error("raw table left behind after re-Apply without DNS capture")
		}
	})

	t.Run("Remove restores direct traffic", func(t *testing.T) {
		nstest.Must(t, Remove(pod))
		nstest.Must(t, Remove(pod)) // idempotent
		for _, name := range tableNames {
			if hasTable(t, pod, name) {
				t.Errorf("table %s left after Remove", name)
			}
		}
		if n := countPolicyRouting(t, pod); n != 0 {
			t.Errorf("after Remove: %d of {fwmark rule, table-100 route} left", n)
		}
		if got := ask(t, pod, toPeer, 0); !strings.HasPrefix(got, "peer-app ") {
			t.Errorf("outbound after Remove answered %q, want peer-app", got)
		}
		if got := ask(t, peer, toPod, 0); !strings.HasPrefix(got, "pod-app ") {
			t.Errorf("inbound after Remove answered %q, want pod-app", got)
		}
	})
}

// TestRemoveOnCleanNamespace covers Remove where Apply never ran.
func TestRemoveOnCleanNamespace(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.Must(t, Remove(nstest.NewNetns(t)))
}

// addProbeSource lets the peer send from 169.254.7.127, the address istio-cni
// SNATs node probes to, and routes it back from the node.
func addProbeSource(t *testing.T, node, peer int) {
	t.Helper()
	host := &net.IPNet{IP: DefaultProbeSNAT.AsSlice(), Mask: net.CIDRMask(32, 32)}
	nstest.WithHandle(t, peer, func(h *netlink.Handle) {
		link, err := h.LinkByName("eth0")
		nstest.Must(t, err)
		nstest.Must(t, h.AddrAdd(link, &netlink.Addr{IPNet: host}))
	})
	nstest.WithHandle(t, node, func(h *netlink.Handle) {
		link, err := h.LinkByName("veth-q")
		nstest.Must(t, err)
		nstest.Must(t, h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Scope: netlink.SCOPE_LINK, Dst: host}))
	})
}

func hasTable(t *testing.T, ns int, name string) bool {
	t.Helper()
	conn, err := nftables.New(nftables.WithNetNSFd(ns))
	nstest.Must(t, err)
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	nstest.Must(t, err)
	for _, tb := range tables {
		if tb.Name == name {
			return true
		}
	}
	return false
}

// countPolicyRouting counts the fwmark rule and the table-100 local route.
func countPolicyRouting(t *testing.T, ns int) int {
	t.Helper()
	n := 0
	nstest.WithHandle(t, ns, func(h *netlink.Handle) {
		rules, err := h.RuleList(unix.AF_INET)
		nstest.Must(t, err)
		for _, r := range rules {
			if r.Priority == RulePriority && r.Table == RouteTableInbound && r.Mark == InpodTProxyMark &&
				r.Mask != nil && *r.Mask == InpodTProxyMask {
				n++
			}
		}
		routes, err := h.RouteListFiltered(unix.AF_INET, &netlink.Route{Table: RouteTableInbound}, netlink.RT_FILTER_TABLE)
		nstest.Must(t, err)
		for _, r := range routes {
			if r.Type == unix.RTN_LOCAL && (r.Dst == nil || r.Dst.String() == "0.0.0.0/0") {
				n++
			}
		}
	})
	return n
}
