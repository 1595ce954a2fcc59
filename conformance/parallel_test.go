package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/ambientlab/ambientlab/conformance/runner"
	"github.com/ambientlab/ambientlab/internal/testutil"
	"github.com/ambientlab/ambientlab/scenarios"
)

// Scenarios are independent, so they run in parallel, each in its own
// sandbox: `ambientlab run` starts a fresh PID, network and mount namespace
// per invocation, so every cluster can use the same address plan without
// colliding. The specs then report the results one by one.

// scenarioLabels are the ginkgo labels of a scenario's spec.
func scenarioLabels(sc *scenarios.Resolved) []string {
	labels := []string{string(sc.Profile)}
	if isCore(sc) {
		labels = append(labels, "Core")
	} else {
		labels = append(labels, "Extended")
	}
	for _, f := range sc.Features {
		labels = append(labels, "Feature:"+string(f))
	}
	return labels
}

// selected returns the scenarios whose labels pass the suite's label filter.
func selected(library []*scenarios.Resolved, filter string) ([]*scenarios.Resolved, error) {
	match := func([]string) bool { return true }
	if filter != "" {
		f, err := types.ParseLabelFilter(filter)
		if err != nil {
			return nil, err
		}
		match = f
	}
	var out []*scenarios.Resolved
	for _, sc := range library {
		if match(scenarioLabels(sc)) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// workers is the parallelism: $AMBIENTLAB_CONFORMANCE_PARALLEL, default 2
// (the CI machine has two cores; clusters are mostly waiting on the kernel).
func workers() int {
	if n, err := strconv.Atoi(os.Getenv("AMBIENTLAB_CONFORMANCE_PARALLEL")); err == nil && n > 0 {
		return n
	}
	return 2
}

// runAll runs each scenario with `ambientlab run` in its own sandbox, at
// most n at a time, and returns the results by scenario name.
func runAll(ctx context.Context, list []*scenarios.Resolved, n int, dumpRoot string) (map[string]runner.ScenarioResult, error) {
	bins, err := testutil.BinDir()
	if err != nil {
		return nil, err
	}
	out := map[string]runner.ScenarioResult{}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, n)
	)
	for _, sc := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res, err := runOne(ctx, filepath.Join(bins, "ambientlab"), sc, dumpRoot)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", sc.Name, err))
				return
			}
			out[sc.Name] = res
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func runOne(ctx context.Context, bin string, sc *scenarios.Resolved, dumpRoot string) (runner.ScenarioResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	file := filepath.Join(testutil.RepoRoot(), "scenarios", sc.File)
	args := []string{"run", "-o", "json", "--no-progress", file}
	if dumpRoot != "" {
		args = append(args, "--dump-dir", dumpRoot)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) { // 1 = the scenario failed
		return runner.ScenarioResult{}, fmt.Errorf("ambientlab run: %v\n%s", err, stderr.String())
	}
	var results []runner.ScenarioResult
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil || len(results) != 1 {
		return runner.ScenarioResult{}, fmt.Errorf("ambientlab run printed %d results (%v):\n%s\n%s", len(results), err, stdout.String(), stderr.String())
	}
	return results[0], nil
}
