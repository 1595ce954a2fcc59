package ztunnel

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestShutdownForcesAtDeadline (reliability F1, ztunnel
// test_shutdown_forced_drain): an idle long-lived connection holds the
// drain until the grace period, then is closed; pods stop serving and no
// goroutine is left behind.
func TestShutdownForcesAtDeadline(t *testing.T) {
	verifyNoLeaks(t)
	tn := newTwoNodes(t)
	c, br := openLongLived(t, tn.mesh, tn.client, netip.MustParseAddrPort("10.96.0.1:80"))
	if !tn.b.proxy.Ready() {
		t.Fatal("node-b not ready before drain")
	}

	const grace = 300 * time.Millisecond
	start := time.Now()
	if tn.b.proxy.Shutdown(context.Background(), grace) {
		t.Fatal("drain reported graceful with a connection open")
	}
	took := time.Since(start)
	if took < grace || took > grace+time.Second {
		t.Errorf("forced drain took %v, want ≈ %v", took, grace)
	}
	if tn.b.proxy.Ready() {
		t.Error("draining proxy still ready")
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("connection survived the forced drain")
	}
	// Closed by our forced context or by the HBONE server's forced
	// shutdown, whichever fires first; the log names the drain either way.
	line := tn.b.access.waitLines(t, `direction="inbound"`, "\terror\taccess\t")[0]
	if !strings.Contains(line, `error="connection closed: proxy drain deadline passed"`) {
		t.Errorf("forced connection's log does not name the drain:\n%s", line)
	}
	// node-a's side ended with the tunnel; its own drain is now immediate.
	tn.a.access.waitLines(t, `direction="outbound"`, "connection complete")
	if !tn.a.proxy.Shutdown(context.Background(), time.Second) {
		t.Error("idle node-a drain was forced")
	}
	tn.a.wg.Wait()
	tn.b.wg.Wait() // every ServePod returned
}

// TestShutdownGraceful: a connection that finishes inside the grace period
// lets the drain complete without forcing, and the draining pod accepts no
// new connections.
func TestShutdownGraceful(t *testing.T) {
	verifyNoLeaks(t)
	tn := newTwoNodes(t)
	c, _ := openLongLived(t, tn.mesh, tn.client, netip.MustParseAddrPort("10.96.0.1:80"))
	done := make(chan bool, 1)
	go func() { done <- tn.a.proxy.Shutdown(context.Background(), 10*time.Second) }()
	deadline := time.Now().Add(5 * time.Second)
	for tn.a.proxy.Ready() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	finish(t, c)
	if !<-done {
		t.Fatal("drain was forced although the connection finished")
	}
	tn.a.wg.Wait() // node-a's ServePod calls returned
	if _, err := net.DialTimeout("tcp", tn.client.outbound.Addr().String(), time.Second); err == nil {
		t.Error("draining pod still accepts outbound connections")
	}
}

// TestAdminEndpoints: /config_dump shows the state and served pods,
// /debug/pprof/ serves profiles on the admin port only, /healthz/ready follows state and drain, /metrics and /stats/prometheus
// serve the istio_tcp_* families.
func TestAdminEndpoints(t *testing.T) {
	tn := newTwoNodes(t)
	c := tn.mesh.dialOutbound(t, tn.client, netip.MustParseAddrPort("10.96.0.1:80"))
	converse(t, c, []byte("x"))
	finish(t, c)
	tn.a.access.waitLines(t, "connection complete")

	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	ls := AdminListeners{Admin: listen(), Metrics: listen(), Readiness: listen()}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- tn.a.proxy.ServeAdmin(ctx, ls) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("ServeAdmin: %v", err)
		}
	})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(ln net.Listener, path string) (int, string) {
		resp, err := client.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, body := get(ls.Admin, "/config_dump")
	var dump struct {
		Node  string   `json:"node"`
		Pods  []string `json:"pods"`
		State struct {
			Workloads []struct{ UID string } `json:"workloads"`
			Services  []struct{ Hostname string }
		} `json:"state"`
	}
	if err := json.Unmarshal([]byte(body), &dump); code != 200 || err != nil {
		t.Fatalf("/config_dump: %d %v\n%s", code, err, body)
	}
	if dump.Node != "node-a" || strings.Join(dump.Pods, ",") != "uid-client" || len(dump.State.Workloads) != 2 ||
		len(dump.State.Services) != 1 || dump.State.Services[0].Hostname != "echo.default.svc.cluster.local" {
		t.Errorf("config dump = %+v", dump)
	}
	// A CPU profile of the process (what docs/perf.md's profiling uses),
	// on the admin port only.
	if code, body := get(ls.Admin, "/debug/pprof/profile?seconds=1"); code != 200 || len(body) == 0 {
		t.Errorf("/debug/pprof/profile: %d, %d bytes", code, len(body))
	}
	if code, body := get(ls.Admin, "/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/: %d\n%s", code, firstLines(body, 5))
	}
	if code, _ := get(ls.Metrics, "/debug/pprof/"); code != 404 {
		t.Errorf("/debug/pprof/ on the metrics port = %d, want 404", code)
	}
	if code, _ := get(ls.Readiness, "/healthz/ready"); code != 200 {
		t.Errorf("/healthz/ready = %d, want 200", code)
	}
	for _, path := range []string{"/metrics", "/stats/prometheus"} {
		code, body := get(ls.Metrics, path)
		if code != 200 || !strings.Contains(body, `istio_tcp_connections_opened_total{connection_security_policy="mutual_tls"`) {
			t.Errorf("%s: %d\n%s", path, code, firstLines(body, 10))
		}
	}
	tn.a.proxy.Shutdown(context.Background(), time.Second)
	if code, _ := get(ls.Readiness, "/healthz/ready"); code != 503 {
		t.Errorf("/healthz/ready while draining = %d, want 503", code)
	}
}

func firstLines(s string, n int) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	var out []string
	for sc.Scan() && len(out) < n {
		out = append(out, sc.Text())
	}
	return strings.Join(out, "\n")
}

// verifyNoLeaks checks, after every other cleanup of the test has run, that
// the test left no goroutine behind (per-test VerifyNone; the tests using
// it must not be parallel).
func verifyNoLeaks(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}
