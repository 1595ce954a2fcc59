package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/sim/cluster"
	"github.com/ambientlab/ambientlab/sim/workload/httpbench"
)

// The HTTP client of BenchmarkAmbientL7VsL4: httpbench run by this test
// binary re-exec'd in a client pod.

// eventuallyHTTP retries cfg from ns's client until it succeeds (xDS
// reaches the waypoint and ztunnels asynchronously after Up).
func (c *l7Cluster) eventuallyHTTP(b *testing.B, ns string, cfg httpbench.Config) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cfg.Timeout = 5 * time.Second
		_, err := c.httpClient(b, ns, cfg)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: %s never succeeded: %v", ns, cfg.URL, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *l7Cluster) mustHTTP(b *testing.B, ns string, cfg httpbench.Config) httpbench.Result {
	b.Helper()
	cfg.Timeout = time.Minute
	res, err := c.httpClient(b, ns, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// httpClient runs httpbench in ns's client pod: this test binary re-exec'd
// there in httpClientMode (the workload binary has no HTTP timing mode).
func (c *l7Cluster) httpClient(b *testing.B, ns string, cfg httpbench.Config) (httpbench.Result, error) {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	stdout, stderr, code, err := execEnv(c.Cluster, ns+"/deploy/client", cfg.Timeout+10*time.Second,
		[]string{exe}, []string{httpClientEnv + "=" + string(js)})
	if err != nil {
		return httpbench.Result{}, fmt.Errorf("%s: exec %s: %w", ns, cfg.URL, err)
	}
	if code != 0 {
		return httpbench.Result{}, fmt.Errorf("%s: %s %s: exit %d: %s", ns, cfg.Mode, cfg.URL, code, bytes.TrimSpace(stderr))
	}
	var res httpbench.Result
	if err := json.Unmarshal(stdout, &res); err != nil {
		return res, fmt.Errorf("%s: result %q: %w", ns, stdout, err)
	}
	return res, nil
}

// httpClientEnv carries an httpbench.Config (JSON) to the re-exec'd binary.
const httpClientEnv = "AMBIENTLAB_BENCH_HTTP"

// httpClientMode runs httpbench when this process was exec'd as the client,
// at GOMAXPROCS 1 like loadgen so every path sees the same client.
func httpClientMode() (code int, ok bool) {
	js := os.Getenv(httpClientEnv)
	if js == "" {
		return 0, false
	}
	runtime.GOMAXPROCS(1)
	var cfg httpbench.Config
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", httpClientEnv, err)
		return 2, true
	}
	res, err := httpbench.Run(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1, true
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1, true
	}
	return 0, true
}

// execEnv runs argv with extra environment in target's pod and returns its
// stdout, stderr and exit code.
func execEnv(c *cluster.Cluster, target string, timeout time.Duration, argv, env []string) (stdout, stderr []byte, code int, err error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, nil, -1, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, nil, -1, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		outR.Close()
		outW.Close()
		errR.Close()
		errW.Close()
		return nil, nil, -1, err
	}
	defer devnull.Close()
	var out, errOut bytes.Buffer
	done := make(chan struct{}, 2)
	go func() { out.ReadFrom(outR); outR.Close(); done <- struct{}{} }()
	go func() { errOut.ReadFrom(errR); errR.Close(); done <- struct{}{} }()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code, err = c.Exec(ctx, cluster.ExecRequest{Target: target, Argv: argv, Env: env, Stdio: [3]*os.File{devnull, outW, errW}}, nil)
	outW.Close()
	errW.Close()
	<-done
	<-done
	return out.Bytes(), errOut.Bytes(), code, err
}

func formatFixed(xs []float64, prec int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.*f", prec, x)
	}
	return strings.Join(parts, " ")
}
