package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/scenarios"
	"github.com/ambientlab/ambientlab/sim/workload/probe"
)

// probeOnce runs the probe client in the source pod and returns its result.
// canary is the attempt's random payload marker.
func (e *env) probeOnce(ctx context.Context, from string, req scenarios.ProbeRequest, canary string) (probe.Result, error) {
	argv := []string{e.opts.WorkloadBinary, "probe", "--timeout", req.Timeout.String()}
	if req.URL != "" {
		argv = append(argv, "--url", req.URL)
	} else {
		argv = append(argv, "--tcp", req.TCP)
	}
	if req.Method != "" {
		argv = append(argv, "--method", req.Method)
	}
	keys := make([]string, 0, len(req.Headers))
	for k := range req.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		argv = append(argv, "-H", k+": "+req.Headers[k])
	}
	if req.Body != "" {
		argv = append(argv, "--data", req.Body)
	}
	if req.HTTP2 {
		argv = append(argv, "--http2")
	}
	argv = append(argv, "--payload-canary", canary)
	// The client bounds itself by req.Timeout; the margin covers exec setup.
	ctx, cancel := context.WithTimeout(ctx, req.Timeout+5*time.Second)
	defer cancel()
	res, err := e.exec(ctx, from, argv)
	if err != nil {
		return probe.Result{}, err
	}
	if res.Code != 0 {
		return probe.Result{}, fmt.Errorf("probe client exited %d: %s", res.Code, strings.TrimSpace(res.Stderr))
	}
	var out probe.Result
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
		return probe.Result{}, fmt.Errorf("probe client output is not a result: %v: %q", err, truncate(res.Stdout, 200))
	}
	return out, nil
}

// canary is a random per-attempt payload marker (see probe.Request.Canary).
func canary() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "canary-" + hex.EncodeToString(b)
}

func (e *env) expandRequest(req scenarios.ProbeRequest) (scenarios.ProbeRequest, error) {
	var err error
	out := req
	if out.URL, err = e.expand(req.URL); err != nil {
		return out, err
	}
	if out.TCP, err = e.expand(req.TCP); err != nil {
		return out, err
	}
	if out.Body, err = e.expand(req.Body); err != nil {
		return out, err
	}
	return out, nil
}

func (e *env) probeStep(ctx context.Context, a *scenarios.ProbeAction, sr *StepResult) bool {
	req, err := e.expandRequest(a.Request)
	if err != nil {
		sr.Message = err.Error()
		return false
	}
	want := a.Expect
	if want.BodyContains, err = e.expandAll(want.BodyContains); err != nil {
		sr.Message = err.Error()
		return false
	}
	switch ip := want.ObservedSourceIP; {
	case ip == "source":
		if want.ObservedSourceIP, err = e.podIP(a.From); err != nil {
			sr.Message = err.Error()
			return false
		}
	case ip != "":
		if want.ObservedSourceIP, err = e.expand(ip); err != nil {
			sr.Message = err.Error()
			return false
		}
	}
	var last ProbeEvidence
	var lastWire *wireAttempt
	r := converge(ctx, a.Convergence, func(ctx context.Context) (bool, string) {
		last = ProbeEvidence{From: a.From, Target: req.Target()}
		wire, ok, why := e.probeAttempt(ctx, a.From, req, want, &last)
		lastWire = wire
		return ok, why
	})
	if lastWire != nil {
		e.keepCapture(a.Index, lastWire)
		last.Wire = &lastWire.evidence
	}
	sr.Probes = []ProbeEvidence{last}
	return e.finish(r, sr)
}

func evidence(from, target string, got probe.Result) ProbeEvidence {
	return ProbeEvidence{From: from, Target: target, Outcome: scenarios.Outcome(got.Outcome), Status: got.Status,
		Latency: got.LatencyMS, Error: got.Error, SourceIP: observedSourceIP(got.Body), LocalAddr: got.LocalAddr}
}

// checkProbe compares one probe result with what the client itself reports;
// identity, path and capture need evidence from elsewhere (probeAttempt).
func checkProbe(want scenarios.ProbeExpectation, got probe.Result) (bool, string) {
	var problems []string
	if string(got.Outcome) != string(want.Outcome) {
		msg := fmt.Sprintf("outcome: got %s, want %s", got.Outcome, want.Outcome)
		if got.Error != "" {
			msg += " (" + got.Error + ")"
		}
		return false, msg
	}
	if want.Status != 0 && got.Status != want.Status {
		problems = append(problems, fmt.Sprintf("status: got %d, want %d", got.Status, want.Status))
	}
	for _, s := range want.BodyContains {
		if !strings.Contains(got.Body, s) {
			problems = append(problems, fmt.Sprintf("body does not contain %q", s))
		}
	}
	for _, s := range want.BodyNotContains {
		if strings.Contains(got.Body, s) {
			problems = append(problems, fmt.Sprintf("body contains %q", s))
		}
	}
	if want.ObservedSourceIP != "" {
		if seen := observedSourceIP(got.Body); seen != want.ObservedSourceIP {
			if seen == "" {
				seen = "nothing (the response carries no echo report or httpbin origin)"
			}
			problems = append(problems, fmt.Sprintf("observed source IP: got %s, want %s", seen, want.ObservedSourceIP))
		}
	}
	if len(problems) == 0 {
		return true, ""
	}
	return false, strings.Join(problems, "; ") + "\n--- body ---\n" + truncate(got.Body, 1024)
}

// observedSourceIP reads the client address the server reported: the echo
// JSON report (source_ip), httpbin's /ip (origin), or the echo text report
// (IP=...).
func observedSourceIP(body string) string {
	var js struct {
		SourceIP string `json:"source_ip"`
		Origin   string `json:"origin"`
	}
	if json.Unmarshal([]byte(body), &js) == nil {
		if js.SourceIP != "" {
			return js.SourceIP
		}
		if net.ParseIP(js.Origin) != nil {
			return js.Origin
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "IP="); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (e *env) matrixStep(ctx context.Context, a *scenarios.MatrixAction, sr *StepResult) bool {
	type cell struct {
		from string
		req  scenarios.ProbeRequest
	}
	cells := make([][]cell, len(a.Sources))
	for r, src := range a.Sources {
		cells[r] = make([]cell, len(a.Targets))
		for c, t := range a.Targets {
			req := scenarios.ProbeRequest{Timeout: a.Timeout}
			if tcp, ok := strings.CutPrefix(t.Value, "tcp://"); ok {
				req.TCP = tcp
			} else {
				req.URL = t.Value
			}
			var err error
			if req, err = e.expandRequest(req); err != nil {
				sr.Message = err.Error()
				return false
			}
			cells[r][c] = cell{from: src.Value, req: req}
		}
	}
	var lastDiff string
	var lastEvidence []ProbeEvidence
	r := converge(ctx, a.Convergence, func(ctx context.Context) (bool, string) {
		got := scenarios.Grid{Columns: a.Want.Columns, Rows: a.Want.Rows, Cells: make([][]scenarios.Cell, len(a.Sources))}
		lastEvidence = lastEvidence[:0]
		for r := range cells {
			got.Cells[r] = make([]scenarios.Cell, len(a.Targets))
			for c, cl := range cells[r] {
				res, err := e.probeOnce(ctx, cl.from, cl.req, canary())
				if err != nil {
					return false, fmt.Sprintf("%s → %s: %v", a.Sources[r].Label, a.Targets[c].Label, err)
				}
				got.Cells[r][c] = scenarios.Cell{Outcome: scenarios.Outcome(res.Outcome), Status: res.Status}
				lastEvidence = append(lastEvidence, evidence(cl.from, cl.req.Target(), res))
			}
		}
		lastDiff = scenarios.Diff(a.Want, got)
		return lastDiff == "", lastDiff
	})
	sr.Probes = append([]ProbeEvidence(nil), lastEvidence...)
	return e.finish(r, sr)
}
