package capture

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io"
	"math/big"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ambientlab/ambientlab/internal/testutil/nstest"
	"github.com/ambientlab/ambientlab/sim/netns"
)

// twoNodeFabric builds the simulator's wiring in throwaway namespaces: a
// fabric namespace holding bridge fabric0, and two node namespaces whose
// eth0 is a veth with its peer a port of the bridge. It returns the fabric
// namespace and the nodes' fds (addresses 10.77.0.1 and 10.77.0.2).
func twoNodeFabric(t *testing.T) (fabric *netns.NS, nodeA, nodeB int) {
	t.Helper()
	nstest.RequireRoot(t)
	fab := nstest.NewNetns(t)
	nodeA, nodeB = nstest.NewNetns(t), nstest.NewNetns(t)
	nstest.WithHandle(t, fab, func(h *netlink.Handle) {
		nstest.Must(t, h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: netns.BridgeName}}))
		br, err := h.LinkByName(netns.BridgeName)
		nstest.Must(t, err)
		nstest.Must(t, h.LinkSetUp(br))
		for i, node := range []int{nodeA, nodeB} {
			port := "fab-n" + string(rune('0'+i))
			nstest.Must(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: port}, PeerName: "eth0", PeerNamespace: netlink.NsFd(node)}))
			l, err := h.LinkByName(port)
			nstest.Must(t, err)
			nstest.Must(t, h.LinkSetMaster(l, br))
			nstest.Must(t, h.LinkSetUp(l))
		}
	})
	for i, node := range []int{nodeA, nodeB} {
		nstest.WithHandle(t, node, func(h *netlink.Handle) {
			l, err := h.LinkByName("eth0")
			nstest.Must(t, err)
			nstest.Must(t, h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 77, 0, byte(i+1)), Mask: net.CIDRMask(24, 32)}}))
			nstest.Must(t, h.LinkSetUp(l))
		})
	}
	ns, err := netns.FromFd(fab)
	nstest.Must(t, err)
	t.Cleanup(func() { ns.Close() })
	return ns, nodeA, nodeB
}

func randomCanary() []byte {
	b := make([]byte, 8)
	rand.Read(b)
	return []byte("canary-" + hex.EncodeToString(b))
}

// echoServer accepts one connection in node's namespace and echoes it.
func echoServer(t *testing.T, node int, addr string, cfg *tls.Config) {
	t.Helper()
	var ln net.Listener
	nstest.InNetns(t, node, func() {
		var err error
		ln, err = net.Listen("tcp", addr)
		nstest.Must(t, err)
	})
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
}

// sendAndEcho dials addr from node's namespace, sends msg and waits for its
// echo, so every byte has crossed the fabric both ways before it returns.
func sendAndEcho(t *testing.T, node int, addr string, cfg *tls.Config, msg []byte) {
	t.Helper()
	var c net.Conn
	nstest.InNetns(t, node, func() {
		var err error
		c, err = net.DialTimeout("tcp", addr, 5*time.Second)
		nstest.Must(t, err)
	})
	defer c.Close()
	if cfg != nil {
		c = tls.Client(c, cfg)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
		t.Fatalf("echo: %q, %v", got, err)
	}
}

func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	nstest.Must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "capture-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(10, 77, 0, 2)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	nstest.Must(t, err)
	cert, err := x509.ParseCertificate(der)
	nstest.Must(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "10.77.0.2"}
}

// TestCapturePlaintextCanaryDetected: a canary sent in plaintext from one
// node to the other is caught on the fabric bridge (forwarded frames are
// seen, which needs promiscuous mode), and the pcap keeps it.
func TestCapturePlaintextCanaryDetected(t *testing.T) {
	fabric, nodeA, nodeB := twoNodeFabric(t)
	canary := randomCanary()
	echoServer(t, nodeB, "10.77.0.2:8080", nil)
	c, err := Start(Options{Netns: fabric})
	nstest.Must(t, err)
	sendAndEcho(t, nodeA, "10.77.0.2:8080", nil, append([]byte("hello "), canary...))
	pkts, st := c.Stop()
	nstest.Must(t, st.Complete())

	err = NoPlaintext(pkts, canary)
	if err == nil {
		t.Fatalf("plaintext canary not detected in %d captured frames", len(pkts))
	}
	if !strings.Contains(err.Error(), "10.77.0.2:8080") || !strings.Contains(err.Error(), string(canary)) {
		t.Errorf("the error does not say where: %v", err)
	}
	if err := OnlyPorts(Flows(pkts), 15008); err == nil || !strings.Contains(err.Error(), "→ 10.77.0.2:8080") {
		t.Errorf("OnlyPorts(15008) = %v, want the port-8080 flow named", err)
	}
	path := filepath.Join(t.TempDir(), "plain.pcap")
	nstest.Must(t, WritePcap(path, pkts))
	back, err := ReadPcap(path)
	nstest.Must(t, err)
	if NoPlaintext(back, canary) == nil {
		t.Error("the canary is missing from the written pcap")
	}
}

// TestCaptureTLSCanaryHidden: the same bytes through TLS on 15008 never show
// in plaintext, the flow parses as TLS records from its handshake, and all
// payload is on 15008.
func TestCaptureTLSCanaryHidden(t *testing.T) {
	fabric, nodeA, nodeB := twoNodeFabric(t)
	canary := randomCanary()
	srvCfg, cliCfg := selfSigned(t)
	echoServer(t, nodeB, "10.77.0.2:15008", srvCfg)
	c, err := Start(Options{Netns: fabric})
	nstest.Must(t, err)
	sendAndEcho(t, nodeA, "10.77.0.2:15008", cliCfg, append([]byte("hello "), canary...))
	pkts, st := c.Stop()
	nstest.Must(t, st.Complete())

	if err := NoPlaintext(pkts, canary); err != nil {
		t.Fatal(err)
	}
	flows := Involving(Flows(pkts), netip.MustParseAddr("10.77.0.1"))
	if len(flows) != 1 || flows[0].ClientBytes < len(canary) {
		t.Fatalf("want one client flow carrying at least the canary's length, got %v", flows)
	}
	if err := OnlyPorts(flows, 15008); err != nil {
		t.Error(err)
	}
	if n, err := OnlyTLSOnPort(flows, 15008); err != nil || n != 1 {
		t.Errorf("OnlyTLSOnPort = %d, %v; want the one flow verified as TLS", n, err)
	}
}

// TestCaptureBounds: a packet bound stops recording and makes the capture
// incomplete, so it can never prove an absence.
func TestCaptureBounds(t *testing.T) {
	fabric, nodeA, nodeB := twoNodeFabric(t)
	echoServer(t, nodeB, "10.77.0.2:8080", nil)
	c, err := Start(Options{Netns: fabric, MaxPackets: 2})
	nstest.Must(t, err)
	sendAndEcho(t, nodeA, "10.77.0.2:8080", nil, []byte("ping"))
	pkts, st := c.Stop()
	if len(pkts) != 2 || st.Reason != StoppedMaxPackets {
		t.Fatalf("got %d packets, reason %s; want 2, %s", len(pkts), st.Reason, StoppedMaxPackets)
	}
	if err := st.Complete(); err == nil || !strings.Contains(err.Error(), "packet limit") {
		t.Errorf("Complete() = %v", err)
	}
	c.Stop() // idempotent

	c, err = Start(Options{Netns: fabric, MaxDuration: 50 * time.Millisecond})
	nstest.Must(t, err)
	time.Sleep(200 * time.Millisecond)
	if _, st := c.Stop(); st.Reason != StoppedMaxDuration {
		t.Errorf("reason %s, want %s", st.Reason, StoppedMaxDuration)
	}
}

func TestStartUnknownInterface(t *testing.T) {
	nstest.RequireRoot(t)
	_, err := Start(Options{Interface: "no-such-link0"})
	if err == nil || !strings.Contains(err.Error(), "no-such-link0") {
		t.Fatalf("Start = %v", err)
	}
}
