// Package runner executes resolved scenarios (package scenarios) against a
// fresh simulated cluster each, and returns typed verdicts with evidence.
//
// It is black-box: it sees the cluster only through sim/cluster's public
// surface (Up, Apply, Delete, Exec, Model, Get, Logs) and observes traffic
// with the probe client run inside source pods. Scenarios run one after the
// other: every cluster uses the same default address plan inside one network
// namespace (the sandbox), so two at once would collide; a fresh cluster per
// scenario is what keeps verdicts independent of order and of earlier runs.
package runner

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/scenarios"
	"github.com/ambientlab/ambientlab/sim/cluster"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// Capabilities is the set a backend has.
type Capabilities map[scenarios.Capability]bool

// SimulatorCapabilities is what the netns simulator can do today: Services
// and cluster DNS. Mesh capabilities join as the data plane lands.
func SimulatorCapabilities() Capabilities {
	return Capabilities{scenarios.CapServices: true, scenarios.CapDNS: true}
}

// Missing returns the capabilities of need the set lacks, sorted.
func (c Capabilities) Missing(need []scenarios.Capability) []scenarios.Capability {
	var out []scenarios.Capability
	for _, n := range need {
		if !c[n] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Options configure a run.
type Options struct {
	// WorkloadBinary is ambientlab-workload (pods' processes and the probe client).
	WorkloadBinary string
	// StateRoot holds one state directory per scenario cluster (removed after).
	StateRoot string
	// DumpRoot, when set, receives a state dump directory per failed scenario.
	DumpRoot     string
	Capabilities Capabilities
	// DetectCapabilities decides the ClusterDecided capabilities from each
	// running cluster instead of skipping scenarios that need them. Left
	// nil, Capabilities is detected: HostCapabilities plus this.
	DetectCapabilities bool
	// UnsupportedFeatures makes scenarios exercising them NOT_SUPPORTED.
	UnsupportedFeatures []scenarios.FeatureName
	// Progress, when set, is called as scenarios and steps start and end.
	Progress func(Event)
	Log      *slog.Logger
}

// EventKind says what an Event reports.
type EventKind int

const (
	ScenarioStarted EventKind = iota + 1
	StepFinished
	ScenarioFinished
)

// Event is a progress notification.
type Event struct {
	Kind     EventKind
	Scenario string
	Index    int // scenario index in the run
	Total    int
	Step     *StepResult     // StepFinished
	Result   *ScenarioResult // ScenarioFinished
}

func (o *Options) defaults() {
	if o.Capabilities == nil {
		o.Capabilities, o.DetectCapabilities = HostCapabilities(), true
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.StateRoot == "" {
		o.StateRoot = os.TempDir()
	}
}

func (o *Options) progress(e Event) {
	if o.Progress != nil {
		o.Progress(e)
	}
}

// Preflight resolves a scenario's manifests into a cluster model without
// creating anything, so problems only topology can see (placement on a
// missing node, address exhaustion) stop a run before it starts.
func Preflight(r *scenarios.Resolved) error {
	_, err := topology.Resolve(r.Manifests, resolveOptions(r), nil)
	return err
}

func resolveOptions(r *scenarios.Resolved) topology.ResolveOptions {
	return topology.ResolveOptions{ClusterName: "ambientlab", Nodes: r.Nodes, Plan: topology.DefaultAddressPlan(),
		ClusterDomain: "cluster.local", TrustDomain: "cluster.local"}
}

// RunAll runs scenarios one after the other and returns their results in order.
func RunAll(ctx context.Context, list []*scenarios.Resolved, opts Options) []ScenarioResult {
	opts.defaults()
	out := make([]ScenarioResult, 0, len(list))
	for i, r := range list {
		opts.progress(Event{Kind: ScenarioStarted, Scenario: r.Name, Index: i, Total: len(list)})
		res := run(ctx, r, opts, i, len(list))
		opts.progress(Event{Kind: ScenarioFinished, Scenario: r.Name, Index: i, Total: len(list), Result: &res})
		out = append(out, res)
	}
	return out
}

// Run runs one scenario on a fresh cluster.
func Run(ctx context.Context, r *scenarios.Resolved, opts Options) ScenarioResult {
	opts.defaults()
	return run(ctx, r, opts, 0, 1)
}

func run(ctx context.Context, r *scenarios.Resolved, opts Options, index, total int) (res ScenarioResult) {
	start := time.Now()
	res = ScenarioResult{Name: r.Name, File: r.File, Hash: r.Hash, Profile: r.Profile, Features: r.Features}
	defer func() { res.Duration = Duration(time.Since(start)) }()

	if unsupported := unsupportedFeatures(r, opts.UnsupportedFeatures); len(unsupported) > 0 {
		res.Result = NotSupported
		res.Reason = Reason{Code: ReasonNotSupported, Message: "features not supported by the implementation: " + strings.Join(unsupported, ", ")}
		return res
	}
	missing, deferred := opts.splitMissing(r.Requires)
	if len(missing) > 0 {
		res.Result, res.Missing = Skipped, missing
		res.Reason = Reason{Code: ReasonNotSupported, Message: missingMessage(r, missing)}
		return res
	}
	stateDir, err := os.MkdirTemp(opts.StateRoot, "scenario-"+r.Name+"-")
	if err != nil {
		res.Result, res.Reason = Skipped, Reason{Code: ReasonEnvUnavailable, Message: err.Error()}
		return res
	}
	defer os.RemoveAll(stateDir)
	cfg := cluster.DefaultConfig()
	cfg.Name, cfg.Nodes, cfg.StateDir, cfg.WorkloadBinary, cfg.Log = "ambientlab", r.Nodes, stateDir, opts.WorkloadBinary, opts.Log
	upCtx, cancel := context.WithTimeout(ctx, r.Timeouts.Step)
	c, err := cluster.Up(upCtx, cfg, r.Manifests)
	cancel()
	if err != nil {
		res.Result, res.Reason = Failed, Reason{Code: ReasonFailed, Message: "cluster setup: " + err.Error()}
		return res
	}
	defer c.Close()
	caps, still, why := decideAfterSetup(c, opts.Capabilities, deferred)
	if len(still) > 0 {
		res.Result, res.Missing = Skipped, still
		res.Reason = Reason{Code: ReasonNotSupported, Message: clusterMissingMessage(r, still, why)}
		return res
	}
	opts.Capabilities = caps
	e := &env{c: c, opts: opts, timeouts: r.Timeouts, name: r.Name}
	res.Result = Succeeded
	for _, a := range r.Steps {
		sr := e.step(ctx, a)
		res.Steps = append(res.Steps, sr)
		opts.progress(Event{Kind: StepFinished, Scenario: r.Name, Index: index, Total: total, Step: &sr})
		if sr.Result != Succeeded {
			res.Result = Failed
			res.Reason = Reason{Code: ReasonFailed, Message: fmt.Sprintf("step %d %q (%s:%d): %s", sr.Index+1, sr.Name, r.File, sr.Line, sr.Message)}
			if opts.DumpRoot != "" {
				dir := filepath.Join(opts.DumpRoot, r.Name)
				if err := dumpState(ctx, c, dir); err != nil {
					opts.Log.Warn("state dump incomplete", "scenario", r.Name, "err", err)
				}
				res.DumpDir = dir
			}
			break
		}
	}
	return res
}

func unsupportedFeatures(r *scenarios.Resolved, unsupported []scenarios.FeatureName) []string {
	var out []string
	for _, f := range r.Features {
		if slices.Contains(unsupported, f) {
			out = append(out, string(f))
		}
	}
	return out
}

// missingMessage names each missing capability, what needs it (features,
// steps) and says it is not implemented yet.
func missingMessage(r *scenarios.Resolved, missing []scenarios.Capability) string {
	var parts []string
	for _, m := range missing {
		var by []string
		for _, f := range r.Features {
			if slices.Contains(f.Requires(), m) {
				by = append(by, string(f))
			}
		}
		for _, a := range r.Steps {
			if slices.Contains(a.Info().Requires, m) {
				by = append(by, fmt.Sprintf("step %d %q", a.Info().Index+1, a.Info().Name))
			}
		}
		s := string(m) + " not implemented yet"
		if len(by) > 0 {
			s += " (needed by " + strings.Join(by, ", ") + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
