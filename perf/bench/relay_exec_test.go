package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/sim/cluster"
)

// The ceiling relay runs as this test binary re-executed inside a pod with
// these variables set (see Relay for what it measures).
const (
	relayListenEnv = "AMBIENTLAB_BENCH_RELAY_LISTEN"
	relayTargetEnv = "AMBIENTLAB_BENCH_RELAY_TARGET"
	relayReadyLine = "relay ready"
)

// relayMode runs the relay when this process was exec'd as one.
func relayMode() (code int, ok bool) {
	listen := os.Getenv(relayListenEnv)
	if listen == "" {
		return 0, false
	}
	target := os.Getenv(relayTargetEnv)
	if target == "" {
		fmt.Fprintf(os.Stderr, "bench relay: %s is set but %s is empty\n", relayListenEnv, relayTargetEnv)
		return 2, true
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench relay: %v\n", err)
		return 1, true
	}
	fmt.Println(relayReadyLine, os.Getpid()) // the benchmark reads the relay's CPU from /proc
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := Relay(ctx, ln, target); err != nil {
		fmt.Fprintf(os.Stderr, "bench relay: %v\n", err)
		return 1, true
	}
	return 0, true
}

// startRelay execs a relay in target's pod listening on listen and
// forwarding to to; it waits until the relay listens, returns its PID and
// kills it at cleanup.
func (c *benchCluster) startRelay(b *testing.B, target, listen, to string) int {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	errR, errW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		_, _ = c.Exec(ctx, cluster.ExecRequest{Target: target, Argv: []string{exe},
			Env: []string{relayListenEnv + "=" + listen, relayTargetEnv + "=" + to,
				// The ztunnels run with one P (ztunnel app.Config.MaxProcs);
				// the relays match, so that they stay the floor under them.
				"GOMAXPROCS=1"},
			Stdio: [3]*os.File{devnull, outW, errW}}, nil)
		outW.Close()
		errW.Close()
	}()
	stderrDone := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(errR)
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
		}
		close(stderrDone)
	}()
	b.Cleanup(func() {
		cancel()
		<-exited
		<-stderrDone
		devnull.Close()
		outR.Close()
		errR.Close()
	})
	ready := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(outR)
		pid := 0
		if sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), relayReadyLine+" "); ok {
				pid, _ = strconv.Atoi(rest)
			}
		}
		ready <- pid
		for sc.Scan() { // drain until exit
		}
	}()
	select {
	case pid := <-ready:
		if pid <= 0 {
			<-exited
			<-stderrDone
			b.Fatalf("relay in %s did not start: %s", target, stderr.String())
		}
		return pid
	case <-time.After(30 * time.Second):
		b.Fatalf("relay in %s: no %q within 30s", target, relayReadyLine)
	}
	return 0
}
