package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/scenarios"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

// step runs one action and returns its result.
func (e *env) step(ctx context.Context, a scenarios.Action) (sr StepResult) {
	info := a.Info()
	sr = StepResult{Index: info.Index, Kind: info.Kind, Name: info.Name, Line: info.Line}
	start := time.Now()
	defer func() { sr.Duration = Duration(time.Since(start)) }()
	if missing := e.opts.Capabilities.Missing(info.Requires); len(missing) > 0 {
		// Scenarios needing missing capabilities are skipped before setup;
		// this guards callers that run steps with other capability sets.
		sr.Result, sr.Message = Skipped, missingMessage(&scenarios.Resolved{Steps: []scenarios.Action{a}}, missing)
		return sr
	}
	var ok bool
	switch t := a.(type) {
	case *scenarios.ApplyAction:
		ok = e.apply(ctx, t.Set, false, &sr)
	case *scenarios.DeleteAction:
		ok = e.apply(ctx, t.Set, true, &sr)
	case *scenarios.ExecAction:
		ok = e.execStep(ctx, t, &sr)
	case *scenarios.ProbeAction:
		ok = e.probeStep(ctx, t, &sr)
	case *scenarios.MatrixAction:
		ok = e.matrixStep(ctx, t, &sr)
	case *scenarios.WaitAction:
		ok = e.wait(ctx, t, &sr)
	case *scenarios.LoadAction:
		ok = e.loadStep(ctx, t, &sr)
	default:
		sr.Message = fmt.Sprintf("step kind %s is not supported by this runner", info.Kind)
	}
	sr.Result = Failed
	if ok {
		sr.Result = Succeeded
	}
	return sr
}

func (e *env) apply(ctx context.Context, set *manifest.Set, del bool, sr *StepResult) bool {
	ctx, cancel := context.WithTimeout(ctx, e.timeouts.Step)
	defer cancel()
	if set == nil {
		sr.Message = "no manifests"
		return false
	}
	var lines []string
	var err error
	if del {
		lines, err = e.c.Delete(ctx, set)
	} else {
		lines, err = e.c.Apply(ctx, set)
	}
	sr.Output = strings.Join(lines, "\n")
	if err != nil {
		sr.Message = err.Error()
		return false
	}
	return true
}

func (e *env) execStep(ctx context.Context, a *scenarios.ExecAction, sr *StepResult) bool {
	argv, err := e.expandAll(a.Argv)
	if err != nil {
		sr.Message = err.Error()
		return false
	}
	want, err := e.expandExpect(a.Expect)
	if err != nil {
		sr.Message = err.Error()
		return false
	}
	var last execResult
	r := converge(ctx, a.Convergence, func(ctx context.Context) (bool, string) {
		actx, cancel := context.WithTimeout(ctx, a.Timeout)
		defer cancel()
		res, err := e.exec(actx, a.In, argv)
		if err != nil {
			return false, err.Error()
		}
		last = res
		return checkExec(want, res)
	})
	sr.Output = truncate(last.Stdout, 4096)
	return e.finish(r, sr)
}

func (e *env) expandExpect(x scenarios.ExecExpectation) (scenarios.ExecExpectation, error) {
	var err error
	out := x
	for _, l := range []*[]string{&out.StdoutContains, &out.StdoutNotContains, &out.StderrContains} {
		if *l, err = e.expandAll(*l); err != nil {
			return out, err
		}
	}
	return out, nil
}

// checkExec compares an exec's result with expectations and explains the
// first difference with enough of the output to see why.
func checkExec(want scenarios.ExecExpectation, got execResult) (bool, string) {
	var problems []string
	if got.Code != want.ExitCode {
		problems = append(problems, fmt.Sprintf("exit code: got %d, want %d", got.Code, want.ExitCode))
	}
	for _, s := range want.StdoutContains {
		if !strings.Contains(got.Stdout, s) {
			problems = append(problems, fmt.Sprintf("stdout does not contain %q", s))
		}
	}
	for _, s := range want.StdoutNotContains {
		if strings.Contains(got.Stdout, s) {
			problems = append(problems, fmt.Sprintf("stdout contains %q", s))
		}
	}
	if want.StdoutMatches != nil && !want.StdoutMatches.MatchString(got.Stdout) {
		problems = append(problems, fmt.Sprintf("stdout does not match /%s/", want.StdoutMatches))
	}
	for _, s := range want.StderrContains {
		if !strings.Contains(got.Stderr, s) {
			problems = append(problems, fmt.Sprintf("stderr does not contain %q", s))
		}
	}
	if len(problems) == 0 {
		return true, ""
	}
	return false, strings.Join(problems, "; ") + "\n--- stdout ---\n" + truncate(got.Stdout, 2048) +
		"\n--- stderr ---\n" + truncate(got.Stderr, 1024)
}

func (e *env) wait(ctx context.Context, a *scenarios.WaitAction, sr *StepResult) bool {
	switch a.For {
	case scenarios.WaitDuration:
		if !sleepCtx(ctx, a.Duration) {
			sr.Message = ctx.Err().Error()
			return false
		}
		return true
	case scenarios.WaitPodsReady:
		r := converge(ctx, scenarios.Convergence{Mode: scenarios.ConvergeEventually, Consecutive: 1, Timeout: a.Timeout},
			func(context.Context) (bool, string) { return e.podsReady() })
		return e.finish(r, sr)
	}
	sr.Message = fmt.Sprintf("unknown wait target %q", a.For)
	return false
}

// finish records a converging check's figures on the step.
func (e *env) finish(r convergeResult, sr *StepResult) bool {
	sr.Attempts = r.attempts
	if r.ok {
		if r.consistentAfter >= 0 && sr.Kind != scenarios.StepWait {
			d := Duration(r.consistentAfter)
			sr.TimeToConsistency = &d
		}
		return true
	}
	sr.Message = r.why
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("… (%d more bytes)", len(s)-n)
}
