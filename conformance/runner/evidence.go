package runner

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/scenarios"
	"github.com/ambientlab/ambientlab/sim/capture"
)

// needsWire and needsLogs say whether an expectation needs evidence beyond
// the probe client's own report.
func needsWire(want scenarios.ProbeExpectation) bool { return want.NoPlaintext }
func needsLogs(want scenarios.ProbeExpectation) bool {
	return want.ObservedIdentity != "" || len(want.Path) > 0
}

// probeAttempt runs one probe with the evidence its expectations need: a
// capture on the fabric around it (noPlaintext) and the ztunnels' access
// logs after it (path, observedIdentity). It fills ev and returns the
// attempt's capture (nil without one) and the verdict.
func (e *env) probeAttempt(ctx context.Context, from string, req scenarios.ProbeRequest, want scenarios.ProbeExpectation,
	ev *ProbeEvidence) (*wireAttempt, bool, string) {
	marker := canary()
	var sniff *capture.Capture
	if needsWire(want) {
		var err error
		// The runner shares the sandbox's network namespace, where fabric0
		// joins every node: all inter-node frames cross it.
		if sniff, err = capture.Start(capture.Options{}); err != nil {
			return nil, false, "no plaintext: " + err.Error()
		}
	}
	start := time.Now()
	got, err := e.probeOnce(ctx, from, req, marker)
	end := time.Now()
	var pkts []capture.Packet
	var st capture.Stats
	if sniff != nil {
		pkts, st = sniff.Stop()
	}
	if err != nil {
		return nil, false, err.Error()
	}
	*ev = evidence(from, req.Target(), got)
	if ok, why := checkProbe(want, got); !ok {
		return nil, false, why
	}
	var problems []string
	var wire *wireAttempt
	if sniff != nil {
		srcIP, err := e.podIP(from)
		if err != nil {
			return nil, false, err.Error()
		}
		w, why := checkNoPlaintext(pkts, st, marker, netip.MustParseAddr(srcIP))
		wire = &wireAttempt{packets: pkts, evidence: w}
		ev.Wire = &wire.evidence
		if why != "" {
			problems = append(problems, why)
		}
	}
	if needsLogs(want) {
		problems = append(problems, e.checkLogs(ctx, want, got.LocalAddr, start, end, ev)...)
	}
	if len(problems) > 0 {
		return wire, false, strings.Join(problems, "; ")
	}
	return wire, true, ""
}

// checkLogs evaluates path and observedIdentity against the access logs.
func (e *env) checkLogs(ctx context.Context, want scenarios.ProbeExpectation, localAddr string, start, end time.Time, ev *ProbeEvidence) []string {
	local, err := netip.ParseAddrPort(localAddr)
	if err != nil {
		return []string{"access logs: the probe client reported no local address to match its connection by (" + localAddr + ")"}
	}
	o, err := e.observePath(ctx, netip.AddrPortFrom(local.Addr().Unmap(), local.Port()), start, end)
	if err != nil {
		return []string{"access logs: " + err.Error()}
	}
	ev.Path, ev.AccessLog = o.path(), o.lines()
	if o.inbound != nil {
		ev.ObservedIdentity = o.inbound.Get(keySrcIdentity)
	}
	var problems []string
	if len(want.Path) > 0 {
		if why := checkPath(want.Path, o); why != "" {
			problems = append(problems, why)
		}
	}
	if want.ObservedIdentity != "" {
		if why := checkIdentity(want.ObservedIdentity, o); why != "" {
			problems = append(problems, why)
		}
	}
	return problems
}
