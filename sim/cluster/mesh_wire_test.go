package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"
)

// sniffer captures every frame crossing one interface of the test's own
// network namespace (the sandbox's fabric) with an AF_PACKET socket.
type sniffer struct {
	fd     int
	wg     sync.WaitGroup
	mu     sync.Mutex
	frames [][]byte
	stop   chan struct{}
}

func startSniffer(t *testing.T, ifname string) *sniffer {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	// A receive timeout lets the reader notice stop without a second fd.
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	s := &sniffer{fd: fd, stop: make(chan struct{})}
	s.wg.Add(1)
	go s.read()
	return s
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *sniffer) read() {
	defer s.wg.Done()
	buf := make([]byte, 65536)
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(s.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		s.mu.Lock()
		s.frames = append(s.frames, bytes.Clone(buf[:n]))
		s.mu.Unlock()
	}
}

// finish stops capturing and returns the frames.
func (s *sniffer) finish() [][]byte {
	close(s.stop)
	s.wg.Wait()
	unix.Close(s.fd)
	return s.frames
}

// fabricPort is the name of node's fabric veth, as sim/netns names it.
func fabricPort(t *testing.T, c *Cluster, node string) string {
	t.Helper()
	for i, n := range c.Model().Nodes {
		if n.Name == node {
			return fmt.Sprintf("fab-n%d", i)
		}
	}
	t.Fatalf("no node %s", node)
	return ""
}

// TestAmbientWireIsMTLS captures sleep's node's fabric veth while sleep
// sends a random canary to httpbin on the other node: every TCP segment
// between the two pods is HBONE (port 15008) and the canary never crosses
// the wire in plaintext.
func TestAmbientWireIsMTLS(t *testing.T) {
	cfg := meshConfig(t, 2)
	c, err := Up(context.Background(), cfg, mustLoad(t, "ambient-basic.yaml", ambientBasic(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sleep, httpbin := podOf(t, c, "sleep"), podOf(t, c, "httpbin")
	b := make([]byte, 16)
	rand.Read(b)
	canary := "canary-" + hex.EncodeToString(b)

	port := fabricPort(t, c, sleep.Node)
	sn := startSniffer(t, port)
	out, code := run(t, c, "ambient-demo/deploy/sleep", curlBin, "-sS", "--max-time", "5", "-H", "X-Canary: "+canary,
		"http://httpbin.ambient-demo:8000/headers")
	frames := sn.finish()
	if code != 0 || !bytes.Contains([]byte(out), []byte(canary)) {
		t.Fatalf("sleep → httpbin: exit %d, response without the canary: %s", code, out)
	}
	hbone := 0
	for _, f := range frames {
		if bytes.Contains(f, []byte(canary)) {
			t.Fatalf("the canary crossed %s in plaintext", port)
		}
		pkt := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.NoCopy)
		ip, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if ip == nil || tcp == nil {
			continue
		}
		pair := map[string]bool{ip.SrcIP.String(): true, ip.DstIP.String(): true}
		if !pair[sleep.IP.String()] || !pair[httpbin.IP.String()] {
			continue
		}
		if tcp.SrcPort != 15008 && tcp.DstPort != 15008 {
			t.Errorf("pod-to-pod segment outside HBONE: %s:%d → %s:%d", ip.SrcIP, tcp.SrcPort, ip.DstIP, tcp.DstPort)
		}
		hbone++
	}
	if hbone == 0 {
		t.Fatalf("captured %d frames on %s but no sleep ↔ httpbin segment", len(frames), port)
	}
	t.Logf("%d HBONE segments between %s and %s, canary absent", hbone, sleep.IP, httpbin.IP)
}
