package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/ambientlab/ambientlab/sim/workload/clusterdns/dnsserver"
	"github.com/ambientlab/ambientlab/sim/workload/ready"
)

// runArgsEnv makes the test binary run the command line it names (unit-separator-separated),
// so tests exercise the real process: flags, readiness fd, signals, exit code.
const runArgsEnv = "AMBIENTLAB_WORKLOAD_TEST_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(runArgsEnv); args != "" {
		os.Exit(run(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

type proc struct {
	cmd    *exec.Cmd
	stdout *bytes.Buffer
	stderr *bytes.Buffer
}

// startReady starts the workload and waits for its readiness signal.
func startReady(t *testing.T, args ...string) *proc {
	t.Helper()
	r, w, err := ready.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := &proc{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), runArgsEnv+"="+strings.Join(args, "\x1f"), ready.Env(0))
	p.cmd.ExtraFiles = []*os.File{w}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ready.Wait(ctx, r); err != nil {
		p.cmd.Wait()
		t.Fatalf("workload not ready: %v\nstderr: %s", err, p.stderr)
	}
	return p
}

// stop sends sig and expects exit code 0 soon after.
func (p *proc) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after %v: %v\nstderr: %s", sig, err, p.stderr)
		}
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-done
		t.Fatalf("no exit after %v", sig)
	}
}

func freePort(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		return strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func TestEchoProcess(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			port := freePort(t, "tcp")
			p := startReady(t, "echo", "--http", port, "--tcp", freePort(t, "tcp"), "--listen-ip", "127.0.0.1",
				"--pod", "ns1/httpbin-0", "--node", "node-0", "--sa", "httpbin", "--cluster", "c1", "--version", "v2")
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get("http://127.0.0.1:" + port + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, want := range []string{"ServiceVersion=v2\n", "Namespace=ns1\n", "Hostname=httpbin-0\n", "ServicePort=" + port + "\n"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("missing %q in\n%s", want, body)
				}
			}
			tr.CloseIdleConnections()
			p.stop(t, sig)
			if !strings.Contains(p.stdout.String(), " GET 127.0.0.1:"+port+" / 200 127.0.0.1:") {
				t.Errorf("access log:\n%s", p.stdout)
			}
		})
	}
}

func TestIdleProcess(t *testing.T) {
	p := startReady(t, "idle")
	p.stop(t, syscall.SIGTERM)
}

func TestDNSProcessReload(t *testing.T) {
	zonePath := filepath.Join(t.TempDir(), "zone.json")
	z := &dnsserver.Zone{Domain: "cluster.local", Services: []dnsserver.Service{
		{Namespace: "ns1", Name: "a", ClusterIP: netip.MustParseAddr("198.18.16.20")}}}
	if err := dnsserver.WriteZone(zonePath, z); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + freePort(t, "udp")
	p := startReady(t, "dns", "--listen", addr, "--zone", zonePath, "--log-queries")
	lookup := func(name string) int {
		req := new(dns.Msg)
		req.SetQuestion(name, dns.TypeA)
		resp, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(req, addr)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Rcode
	}
	if rc := lookup("a.ns1.svc.cluster.local."); rc != dns.RcodeSuccess {
		t.Fatalf("a: %s", dns.RcodeToString[rc])
	}
	z.Services = append(z.Services, dnsserver.Service{Namespace: "ns1", Name: "b", ClusterIP: netip.MustParseAddr("198.18.16.21")})
	if err := dnsserver.WriteZone(zonePath, z); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for lookup("b.ns1.svc.cluster.local.") != dns.RcodeSuccess {
		if time.Now().After(deadline) {
			t.Fatalf("b not served after SIGHUP; stderr:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.stop(t, syscall.SIGTERM)
	if !strings.Contains(p.stdout.String(), " A a.ns1.svc.cluster.local. NOERROR") {
		t.Errorf("query log:\n%s", p.stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{},
		{"bogus"},
		{"echo"},
		{"echo", "--http", "80x"},
		{"echo", "--http", "0"},
		{"echo", "--tcp", "9000", "--pod", "noslash"},
		{"echo", "--nope"},
		{"idle", "extra"},
		{"dns"},
	}
	for _, args := range tests {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("run(%q) = %d, want 2; stderr: %s", args, code, errb.String())
		}
	}
	var out bytes.Buffer
	if code := run([]string{"dns", "--zone", filepath.Join(t.TempDir(), "missing")}, &out, &out); code != 1 {
		t.Errorf("dns with missing zone = %d, want 1", code)
	}
}
