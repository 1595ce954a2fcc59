package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// httpbinSelfAllow lets httpbin call its own Service, the other node's
// traffic in TestZtunnelCrashFailsClosedThenRecovers (ambient-basic allows
// only sleep).
const httpbinSelfAllow = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin-allow-self, namespace: ambient-demo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/ambient-demo/sa/httpbin"]}
`

// TestZtunnelCrashFailsClosedThenRecovers is reliability test F2: the
// ztunnel of sleep's node is killed (SIGKILL, no shutdown code runs) while
// sleep keeps sending a random canary to httpbin on the other node. While
// the node has no ztunnel, sleep's traffic must fail (its in-pod rules
// still send it to a ztunnel port nobody listens on) and never leave the
// node in plaintext; once the simulator has restarted the ztunnel, the new
// process must get the pod's netns again over ZDS, obtain its certificate
// and carry the traffic over HBONE, with policy still enforced. The other
// node's traffic goes on unaffected throughout.
func TestZtunnelCrashFailsClosedThenRecovers(t *testing.T) {
	cfg := meshConfig(t, 2)
	c, err := Up(context.Background(), cfg, mustLoad(t, "ambient-basic.yaml", ambientBasic(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sleep := podOf(t, c, "sleep")
	if httpbin := podOf(t, c, "httpbin"); httpbin.Node == sleep.Node {
		t.Fatalf("fixture: sleep and httpbin both on %s; the test needs them on different nodes", sleep.Node)
	}
	ztunnel := "istio-system/ztunnel-" + sleep.Node
	b := make([]byte, 16)
	rand.Read(b)
	canary := "canary-" + hex.EncodeToString(b)
	curl := func() (string, int) {
		return run(t, c, "ambient-demo/deploy/sleep", curlBin, "-sS", "--max-time", "2", "-H", "X-Canary: "+canary,
			"http://httpbin.ambient-demo:8000/headers")
	}
	if out, code := curl(); code != 0 || !strings.Contains(out, canary) {
		t.Fatalf("before the crash: exit %d: %s", code, out)
	}
	outboundLines := func() int {
		var buf bytes.Buffer
		if err := c.Logs(context.Background(), ztunnel, "", false, 0, &buf); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(buf.String(), "\n") {
			if strings.Contains(line, `direction="outbound"`) && strings.Contains(line, `src.identity="spiffe://cluster.local/ns/ambient-demo/sa/sleep"`) &&
				strings.Contains(line, `dst.identity="`+httpbinID+`"`) {
				n++
			}
		}
		return n
	}

	port := fabricPort(t, c, sleep.Node)
	sn := startSniffer(t, port)
	// sleep keeps sending through the gap; every outcome is recorded.
	var (
		mu       sync.Mutex
		outcomes []int // curl exit codes
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	// send calls one request until stop, recording exit codes.
	send := func(req func() (string, int), into *[]int) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, code := req()
			mu.Lock()
			*into = append(*into, code)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Meanwhile the other node's traffic (httpbin calling its own Service
	// through its own node's ztunnel) must not notice.
	var otherNode []int
	selfCall := func() (string, int) {
		return run(t, c, "ambient-demo/deploy/httpbin", curlBin, "-sS", "-o", "/dev/null", "--max-time", "2",
			"http://httpbin.ambient-demo:8000/get")
	}
	if _, err := c.Apply(context.Background(), mustDecode(t, "httpbin-self.yaml", httpbinSelfAllow)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, code := selfCall()
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("before the crash: httpbin → its own Service: curl exit %d", code)
		}
	}
	wg.Add(2)
	go send(curl, &outcomes)
	go send(selfCall, &otherNode)

	old := systemPid(t, c, isZtunnelOf(sleep.Node))
	before := outboundLines()
	killed := time.Now()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	restarted := waitRestart(t, c, isZtunnelOf(sleep.Node), old, 30*time.Second)
	ready := time.Since(killed)
	// Traffic recovers through the new process.
	var recovered time.Duration
	for deadline := time.Now().Add(20 * time.Second); ; {
		if out, code := curl(); code == 0 && strings.Contains(out, canary) {
			recovered = time.Since(killed)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ztunnel %s restarted as pid %d, but sleep → httpbin still fails 20s later", ztunnel, restarted)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	frames := sn.finish()
	for _, f := range frames {
		if bytes.Contains(f, []byte(canary)) {
			t.Fatalf("the canary crossed %s in plaintext around the ztunnel crash", port)
		}
	}
	failed := 0
	for _, code := range outcomes {
		if code != 0 {
			failed++
		}
	}
	if failed == 0 {
		t.Fatalf("no request failed in %d sent while the ztunnel was down: the gap was not observed, or traffic bypassed the node proxy", len(outcomes))
	}
	for i, code := range otherNode {
		if code != 0 {
			t.Errorf("request %d of %d on the other node failed (curl exit %d) while %s was down", i+1, len(otherNode), code, ztunnel)
		}
	}
	// The outbound connections after the restart were logged by the new
	// process with both identities (the old one cannot log any more).
	deadline := time.Now().Add(5 * time.Second)
	for outboundLines() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("no outbound sleep → httpbin access-log line from the restarted ztunnel (pid %d)", restarted)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got, _ := run(t, c, "ambient-demo/deploy/notsleep", cfg.WorkloadBinary, "probe", "--url", httpbinIP, "--timeout", "5s"); !strings.Contains(got, `"reset"`) {
		t.Fatalf("after the restart: notsleep → httpbin = %s, want reset (policy still enforced)", got)
	}
	t.Logf("ztunnel pid %d killed; pid %d ready after %s; traffic back after %s; %d of %d requests sent around the crash failed, canary never in plaintext (%d frames); other node %d of %d ok",
		old, restarted, ready.Round(time.Millisecond), recovered.Round(time.Millisecond), failed, len(outcomes), len(frames), len(otherNode), len(otherNode))
}
