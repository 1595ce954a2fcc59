package ztunnel

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"go.uber.org/goleak"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/sockets"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testMesh is an in-process mesh on loopback: every 127.0.0.x address is
// local on Linux, so fake pods get distinct IPs, all pods share one HBONE
// port, and a redirect table plays the part of SO_ORIGINAL_DST.
type testMesh struct {
	ca        *testCA
	verifier  *identity.Verifier
	certs     *certStore
	hbonePort uint16
	reserved  map[netip.Addr]net.Listener // unclaimed :15008 listeners by pod IP
	redirects sync.Map                    // client ip:port → original destination
	nextPort  atomic.Uint32
}

func newTestMesh(t testing.TB) *testMesh {
	t.Helper()
	ca, err := newTestCA()
	if err != nil {
		t.Fatal(err)
	}
	b := x509bundle.FromX509Authorities(spiffeid.RequireTrustDomainFromString("cluster.local"), []*x509.Certificate{ca.cert})
	v, err := identity.NewVerifier(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &testMesh{ca: ca, verifier: v, certs: &certStore{ca: ca, m: map[identity.Identity]*identity.Certificate{}}}
	m.reserveHBONEPort(t)
	m.nextPort.Store(uint32(20000 + time.Now().UnixNano()%20000))
	return m
}

// reserveHBONEPort finds one port free on every fake pod address
// (127.0.0.2-127.0.0.9) and keeps those listeners for the pods' :15008, so
// nothing else can take the port in between.
func (m *testMesh) reserveHBONEPort(t testing.TB) {
	t.Helper()
	for range 50 {
		port := freePort(t)
		m.reserved = map[netip.Addr]net.Listener{}
		ok := true
		for i := byte(2); i <= 9 && ok; i++ {
			ip := netip.AddrFrom4([4]byte{127, 0, 0, i})
			ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, port).String())
			if err != nil {
				ok = false
				break
			}
			m.reserved[ip] = ln
		}
		if ok {
			m.hbonePort = port
			t.Cleanup(func() {
				for _, ln := range m.reserved {
					_ = ln.Close()
				}
			})
			return
		}
		for _, ln := range m.reserved {
			_ = ln.Close()
		}
	}
	t.Fatal("no port free on all of 127.0.0.2-9")
}

// hboneListener hands out the reserved :15008 listener of ip.
func (m *testMesh) hboneListener(t testing.TB, ip netip.Addr) net.Listener {
	t.Helper()
	ln, ok := m.reserved[ip]
	if !ok {
		t.Fatalf("no reserved HBONE listener for %s", ip)
	}
	delete(m.reserved, ip)
	return ln
}

// freePort returns a port that was just free on 127.0.0.1; fake pods bind
// it on their own 127.0.0.x addresses.
func freePort(t testing.TB) uint16 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// certStore issues SVIDs on demand from the test CA.
type certStore struct {
	ca *testCA
	mu sync.Mutex
	m  map[identity.Identity]*identity.Certificate
}

func (s *certStore) Certificate(_ context.Context, id identity.Identity) (*identity.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.m[id]; ok {
		return c, nil
	}
	c, err := s.ca.issue(id)
	if err != nil {
		return nil, err
	}
	s.m[id] = c
	return c, nil
}

func (m *testMesh) originalDst(c net.Conn) (netip.AddrPort, error) {
	if v, ok := m.redirects.Load(c.RemoteAddr().String()); ok {
		return v.(netip.AddrPort), nil
	}
	return netip.AddrPort{}, errors.New("no redirect entry")
}

// syncBuffer collects log output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the lines containing every one of subs.
func (s *syncBuffer) lines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(s.String(), "\n") {
		ok := l != ""
		for _, sub := range subs {
			ok = ok && strings.Contains(l, sub)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// waitLines polls until a line with every sub appears (telemetry is
// written after the copy ends, so it may trail the client's view).
func (s *syncBuffer) waitLines(t testing.TB, subs ...string) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if ls := s.lines(subs...); len(ls) > 0 {
			return ls
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", subs, s.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type testNode struct {
	name   string
	proxy  *Proxy
	access *syncBuffer
	logs   *syncBuffer
	wg     sync.WaitGroup
}

func (m *testMesh) newNode(t testing.TB, name string) *testNode {
	t.Helper()
	n := &testNode{name: name, access: &syncBuffer{}, logs: &syncBuffer{}}
	p, err := New(Config{
		Node:            name,
		Logger:          slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		AccessLog:       slog.New(NewAccessLogHandler(n.access, false, nil)),
		Verifier:        m.verifier,
		Certificates:    m.certs,
		OriginalDst:     m.originalDst,
		Picker:          func(int) int { return 0 },
		HBONEPort:       m.hbonePort,
		LazyLoadTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	n.proxy = p
	t.Cleanup(n.wg.Wait)
	return n
}

type testPod struct {
	w         *workloadapi.Workload
	ip        netip.Addr
	outbound  net.Listener
	plaintext net.Listener
	cancel    context.CancelFunc
}

// withoutInbound serves a pod with no :15008 listener, so only the
// same-node fast path can reach it.
const withoutInbound = true

// addPod serves w (whose first IP must be a 127.0.0.x address) on n until
// the test ends.
func (m *testMesh) addPod(t testing.TB, n *testNode, w *workloadapi.Workload, noInbound ...bool) *testPod {
	t.Helper()
	ip := w.IPs[0]
	listen := func(port uint16) net.Listener {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, port).String())
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	pod := &testPod{w: w, ip: ip, outbound: listen(0), plaintext: listen(0)}
	pc := PodContext{UID: w.UID, Name: w.Name, Namespace: w.Namespace, ServiceAccount: w.ServiceAccount,
		Listeners: Listeners{Outbound: pod.outbound, InboundPlaintext: pod.plaintext},
		Sockets:   sockets.WithBind(sockets.Default(), ip)}
	if len(noInbound) == 0 || !noInbound[0] {
		pc.Listeners.Inbound = m.hboneListener(t, ip)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pod.cancel = cancel
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.proxy.ServePod(ctx, pc); err != nil {
			t.Errorf("ServePod(%s): %v", w.Name, err)
		}
	}()
	t.Cleanup(cancel)
	// Listeners queue connections from the start, but the same-node fast
	// path needs the pod registered; wait for it.
	for deadline := time.Now().Add(5 * time.Second); !slices.Contains(n.proxy.podUIDs(), w.UID); {
		if time.Now().After(deadline) {
			t.Fatalf("pod %s never registered", w.Name)
		}
		time.Sleep(time.Millisecond)
	}
	return pod
}

// dialOutbound connects like pod's application would to dst: the
// connection lands on the pod's :15001 with dst as its original
// destination.
func (m *testMesh) dialOutbound(t testing.TB, pod *testPod, dst netip.AddrPort) *net.TCPConn {
	t.Helper()
	return m.dialRedirected(t, pod.ip, pod.outbound, dst)
}

// dialPlaintext connects from src to dst as an uncaptured client would;
// the destination pod's capture lands it on its :15006.
func (m *testMesh) dialPlaintext(t testing.TB, src netip.Addr, dstPod *testPod, dst netip.AddrPort) *net.TCPConn {
	t.Helper()
	return m.dialRedirected(t, src, dstPod.plaintext, dst)
}

func (m *testMesh) dialRedirected(t testing.TB, src netip.Addr, ln net.Listener, dst netip.AddrPort) *net.TCPConn {
	t.Helper()
	c, err := m.tryDialRedirected(t, src, ln, dst)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tryDialRedirected is dialRedirected returning the dial error: a proxy
// that resets at once can make connect(2) itself report ECONNRESET.
func (m *testMesh) tryDialRedirected(t testing.TB, src netip.Addr, ln net.Listener, dst netip.AddrPort) (*net.TCPConn, error) {
	t.Helper()
	for range 50 {
		local := netip.AddrPortFrom(src, uint16(m.nextPort.Add(1)%40000+20000))
		m.redirects.Store(local.String(), dst)
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(local), Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				m.redirects.Delete(local.String())
				continue
			}
			return nil, err
		}
		t.Cleanup(func() { _ = c.Close() })
		return c.(*net.TCPConn), nil
	}
	t.Fatal("no free source port")
	return nil, nil
}

// expectRedirectedReset dials like dialRedirected and asserts the proxy
// resets the connection without passing any data.
func (m *testMesh) expectRedirectedReset(t testing.TB, src netip.Addr, ln net.Listener, dst netip.AddrPort) {
	t.Helper()
	c, err := m.tryDialRedirected(t, src, ln, dst)
	if err != nil {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("dial: %v, want success or a reset", err)
		}
		return
	}
	expectReset(t, c)
}

// expectReset asserts c is reset (or closed) without any data.
func expectReset(t testing.TB, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 64))
	if n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read = %d, %v; want a reset", n, err)
	}
}

// metricSum sums the series of name whose labels include want.
func metricSum(t testing.TB, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// snapshot builds state or fails the test.
func snapshot(t testing.TB, ws []*workloadapi.Workload, ss []*workloadapi.Service, ps ...*policy.Policy) *workloadapi.Snapshot {
	t.Helper()
	s, err := workloadapi.New(ws, ss, ps)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hboneClient is a raw mesh client presenting id from addr src.
func (m *testMesh) hboneClient(t testing.TB, src netip.Addr, id, peer identity.Identity) *hbone.Dialer {
	t.Helper()
	cert, err := m.certs.Certificate(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	f := sockets.WithBind(sockets.Default(), src)
	d := &hbone.Dialer{
		TLSConfig: func(hbone.PoolKey) (*tls.Config, error) {
			return identity.ClientConfig(m.verifier, cert, []identity.Identity{peer}), nil
		},
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return f.Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort(addr))
		},
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }
