package cli_test

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/ambientlab/ambientlab/internal/testutil"
	"github.com/ambientlab/ambientlab/sim/control"
)

// TestKill9UpLeavesNothing is issue #2's acceptance: `kill -9` of the real
// `ambientlab up` process at random moments, 20 times in a row, leaves no
// process, namespace, link, nft table, mount or socket behind. Delays span
// validation, sandbox start, bring-up and the running cluster.
func TestKill9UpLeavesNothing(t *testing.T) {
	c := newCLI(t)
	example := filepath.Join(testutil.RepoRoot(), "scenarios/examples/httpbin.yaml")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("seed %d", seed)
	// A private copy of the workload binary: any process still running it
	// after a kill is a leak, whatever other tests run at the same time.
	workload := filepath.Join(t.TempDir(), "ambientlab-workload-kill-test")
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(c.bin), "ambientlab-workload")); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(workload, b, 0o755); err != nil {
		t.Fatal(err)
	}
	linksBefore := hostLinks(t)
	mountsBefore := nsfsMounts(t)
	afterReady := 0
	for round := 0; round < 20; round++ {
		delay := time.Duration(rng.IntN(600)) * time.Millisecond
		cmd := exec.Command(c.bin, "up", "--name", c.cluster, "--nodes", "2", "-f", example, "--workload-binary", workload)
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = nil
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		readyc := make(chan bool, 1)
		go func() {
			s := bufio.NewScanner(stdout)
			for s.Scan() {
				if strings.Contains(s.Text(), "is up") {
					readyc <- true
				}
			}
		}()
		time.Sleep(delay)
		cmd.Process.Kill()
		cmd.Wait()
		ready := false
		select {
		case ready = <-readyc:
		default:
		}
		if ready {
			afterReady++
		}
		// The kernel tears the sandbox down asynchronously; poll, bounded.
		var problems []string
		deadline := time.Now().Add(5 * time.Second)
		for {
			problems = nil
			for _, marker := range []string{"--name " + c.cluster, workload} {
				if procs := processesMentioning(marker); len(procs) > 0 {
					problems = append(problems, "processes: "+strings.Join(procs, "; "))
				}
			}
			if extra := diff(hostLinks(t), linksBefore); len(extra) > 0 {
				problems = append(problems, "host links: "+strings.Join(extra, ","))
			}
			if extra := diff(nsfsMounts(t), mountsBefore); len(extra) > 0 {
				problems = append(problems, "nsfs mounts: "+strings.Join(extra, ","))
			}
			if len(problems) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(problems) > 0 {
			t.Fatalf("round %d (kill after %v, ready=%v) leaked:\n%s", round, delay, ready, strings.Join(problems, "\n"))
		}
		// The only host-visible object is the control socket; the next `up`
		// replaces a stale one, `ambientlab reap` removes it.
		if _, err := control.NewClient(c.cluster).Status(); err == nil {
			t.Fatalf("round %d: the killed cluster still answers", round)
		}
	}
	out, errOut, code := c.run("reap")
	if code != 0 {
		t.Fatalf("reap: %s %s", out, errOut)
	}
	if _, err := os.Stat(control.SocketPath(c.cluster)); err == nil {
		t.Error("reap left the stale control socket")
	}
	t.Logf("20 kills, %d after the cluster was ready; reap: %s", afterReady, strings.TrimSpace(out))
}

func hostLinks(t *testing.T) []string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	return names
}

// nsfsMounts lists namespace bind mounts (what `ip netns add` would leave).
func nsfsMounts(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(line, []byte(" nsfs ")) || bytes.Contains(line, []byte("ambientlab")) {
			out = append(out, string(line))
		}
	}
	return out
}

func diff(now, before []string) []string {
	had := map[string]bool{}
	for _, s := range before {
		had[s] = true
	}
	var extra []string
	for _, s := range now {
		if !had[s] {
			extra = append(extra, s)
		}
	}
	return extra
}
