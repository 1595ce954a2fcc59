package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ambientlab/ambientlab/internal/attacks"
	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/cluster"
	"github.com/ambientlab/ambientlab/sim/topology"
	"github.com/ambientlab/ambientlab/sim/workload/probe"
)

// NegativeOutcome is the negative suite's tally, shown in the report.
type NegativeOutcome struct {
	Results               []v1.TestResult
	Attacks, Twins        int
	Bypasses, FalseDenies int
}

// RunNegative deploys the corpus fixture in a fresh simulated cluster (bins
// holds ambientlab and ambientlab-workload), waits until the waypoint
// enforces it, sends every attack and twin from the client pod and judges
// them. A deployment that never converges is an error naming what was seen.
func RunNegative(ctx context.Context, bins string, logf func(string, ...any)) (NegativeOutcome, error) {
	var out NegativeOutcome
	state, err := os.MkdirTemp("", "neg") // short: the mesh's unix sockets live here
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(state)
	cfg := cluster.DefaultConfig()
	cfg.Name, cfg.StateDir = "negative", state
	cfg.WorkloadBinary, cfg.MeshBinary = filepath.Join(bins, "ambientlab-workload"), filepath.Join(bins, "ambientlab")
	iss, err := newJWTIssuer(negIssuer, "k1")
	if err != nil {
		return out, err
	}
	set, err := manifest.Load("waypoint-negative.yaml", []byte(negativeManifest(iss.jwks())))
	if err != nil {
		return out, fmt.Errorf("negative fixture manifest: %w", err)
	}
	c, err := cluster.Up(ctx, cfg, set)
	if err != nil {
		return out, fmt.Errorf("negative fixture cluster: %w", err)
	}
	defer c.Close()
	env, err := negativeEnv(iss, time.Now())
	if err != nil {
		return out, fmt.Errorf("negative suite tokens: %w", err)
	}
	if err := negConverge(ctx, c, cfg.WorkloadBinary, env, logf); err != nil {
		return out, err
	}
	backend, err := cluster.ResolveTarget(c.Model(), negBackend)
	if err != nil {
		return out, err
	}
	before, err := backendRequests(ctx, c, cfg.WorkloadBinary, backend)
	if err != nil {
		return out, err
	}
	runs := negativeRuns(env, negDeployedMode)
	reqs := make([]probe.RawRequest, len(runs))
	wantSeen, mayAbort := uint64(0), uint64(0)
	for i, r := range runs {
		reqs[i] = r.req
		wantSeen += uint64(len(r.want.Seen))
		mayAbort += uint64(len(r.want.Aborted))
	}
	start := time.Now()
	got, err := execRaw(ctx, c, cfg.WorkloadBinary, reqs)
	if err != nil {
		return out, err
	}
	took := time.Since(start)
	after, err := backendRequests(ctx, c, cfg.WorkloadBinary, backend)
	if err != nil {
		return out, err
	}
	out.Results = negativeResults(runs, got, negDeployedMode, took)
	for i, t := range out.Results {
		if runs[i].twin {
			out.Twins++
		} else {
			out.Attacks++
		}
		if t.Result == v1.Failed && runs[i].twin {
			out.FalseDenies++
		} else if t.Result == v1.Failed {
			out.Bypasses++
		}
	}
	// Nothing leaked: the backend served exactly the requests the corpus
	// says the waypoint authorizes, no more (a hidden or denied request that
	// got through would show here even if its response looked right).
	leak := v1.TestResult{Name: "WaypointNegative/backend received exactly the authorized requests", Profile: NegativeProfile,
		Features: []string{FeatureNegativeAttack}, Result: v1.Succeeded, Duration: v1.Duration(took),
		Evidence: []v1.Evidence{{Kind: v1.EvidenceProbe, Summary: fmt.Sprintf("echo backend %s counted %d requests during the suite; the corpus authorizes %d, plus at most %d started and aborted (HTTP/2 content-length mismatch)", backend.Key(), after-before, wantSeen, mayAbort)}}}
	if n := after - before; n < wantSeen || n > wantSeen+mayAbort {
		leak.Result, leak.Message = v1.Failed, fmt.Sprintf("bypass: the backend counted %d requests, the corpus authorizes %d (+ ≤ %d aborted)", n, wantSeen, mayAbort)
		out.Bypasses++
	}
	out.Attacks++
	out.Results = append(out.Results, leak)
	return out, nil
}

// negConverge waits (≤ 90 s) until the waypoint serves the fixture: a plain
// request served, a DENY path refused, a JWT-guarded path served with a token.
func negConverge(ctx context.Context, c *cluster.Cluster, wl string, env attacks.Env, logf func(string, ...any)) error {
	probes := []negRun{}
	for _, r := range negativeRuns(env, negDeployedMode) {
		if r.proto == attacks.H1 && (r.c.Name == "query ignored for match" || r.c.Name == "disallowed subject") {
			probes = append(probes, r)
		}
	}
	reqs := make([]probe.RawRequest, len(probes))
	for i, r := range probes {
		reqs[i] = r.req
	}
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for {
		got, err := execRaw(ctx, c, wl, reqs)
		last = fmt.Sprint(err)
		if err == nil {
			last = ""
			for i, r := range probes {
				if msg := judge(r, got[i]); msg != "" {
					last += negativeName(r, negDeployedMode) + ": " + msg + "\n"
				}
			}
			if last == "" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the deployed waypoint did not enforce the negative fixture within 90 s:\n%s", last)
		}
		logf("negative suite: waiting for the waypoint: %s", last)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// backendRequests reads the echo backend's request counter (requests to the
// stats path are not counted), asking the pod directly.
func backendRequests(ctx context.Context, c *cluster.Cluster, wl string, backend topology.Pod) (uint64, error) {
	dir, err := os.MkdirTemp("", "negstats-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	outF, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		return 0, err
	}
	defer outF.Close()
	url := fmt.Sprintf("http://%s/__ambientlab/stats", net.JoinHostPort(backend.IP.String(), "80"))
	code, err := c.Exec(ctx, cluster.ExecRequest{Target: negClient, Argv: []string{wl, "probe", "--url", url, "--timeout", "5s"}, Stdio: [3]*os.File{nil, outF, nil}}, nil)
	b, _ := os.ReadFile(outF.Name())
	var res probe.Result
	if err != nil || code != 0 || json.Unmarshal(b, &res) != nil || res.Status != 200 {
		return 0, fmt.Errorf("backend stats %s: exit %d, %v: %.300s", url, code, err, b)
	}
	var stats struct {
		Total uint64 `json:"total"`
	}
	if err := json.Unmarshal([]byte(res.Body), &stats); err != nil {
		return 0, fmt.Errorf("backend stats %s: %v: %.300s", url, err, res.Body)
	}
	return stats.Total, nil
}
