package scenarios

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

// step validates and resolves one step; nil on error.
func (c *compiler) step(i int, s Step, t Timeouts) Action {
	path := fmt.Sprintf("spec.steps[%d]", i)
	m := s.Meta()
	info := StepInfo{Index: i, Kind: StepKind(m.Kind), Name: m.Name, Line: c.obj.FieldLine(path + ".kind")}
	if info.Name == "" {
		info.Name = fmt.Sprintf("%s #%d", m.Kind, i+1)
	}
	before := len(c.errs)
	var a Action
	switch st := s.(type) {
	case *ApplyStep:
		set := c.inlineManifests(path, st.Manifests, true)
		a = &ApplyAction{StepInfo: info, Set: set}
	case *DeleteStep:
		set := c.inlineManifests(path, st.Manifests, false)
		a = &DeleteAction{StepInfo: info, Set: set}
	case *ExecStep:
		a = c.exec(path, info, st, t)
	case *ProbeStep:
		a = c.probe(path, info, st, t)
	case *MatrixStep:
		a = c.matrix(path, info, st, t)
	case *WaitStep:
		a = c.wait(path, info, st, t)
	case *LoadStep:
		a = c.load(path, info, st, t)
	}
	if len(c.errs) > before {
		return nil
	}
	return a
}

// inlineManifests decodes a step's manifests. They must be a literal block
// (`manifests: |`): its content starts on the line after the key, so padding
// the text with that many newlines makes every decoder line a file line.
func (c *compiler) inlineManifests(path, text string, apply bool) *manifest.Set {
	field := path + ".manifests"
	if strings.TrimSpace(text) == "" {
		c.errorf(field, "required: one or more objects as multi-document YAML")
		return nil
	}
	keyLine := c.obj.FieldLine(field)
	if keyLine < 1 || keyLine > len(c.lines) || !isBlockScalar(c.lines[keyLine-1]) {
		c.errorf(field, "write the manifests as a literal block (`manifests: |`) so errors can name their lines")
		return nil
	}
	set, err := manifest.Decode(c.file, []byte(strings.Repeat("\n", keyLine)+text))
	if err != nil {
		c.addErr(err)
		c.current = nil
		return nil
	}
	if len(set.Objects) == 0 {
		c.errorf(field, "no objects")
		return nil
	}
	for _, o := range set.Objects {
		if o.GVK == GVK {
			c.errs = append(c.errs, o.ErrorAt("", "a step cannot hold a Scenario"))
			return nil
		}
	}
	c.impliedByManifests(set)
	if c.current == nil {
		return set
	}
	next := &manifest.Set{Objects: append([]manifest.Object(nil), c.current.Objects...)}
	if apply {
		err = next.Merge(set)
	} else {
		_, err = next.Remove(set)
	}
	if err != nil {
		c.addErr(err)
		c.current = nil
		return nil
	}
	c.current = next
	return set
}

var blockScalarRE = regexp.MustCompile(`^\s*(- )?manifests:\s*[|>][-+0-9]*\s*(#.*)?$`)

func isBlockScalar(line string) bool { return blockScalarRE.MatchString(line) }

func (c *compiler) exec(path string, info StepInfo, s *ExecStep, t Timeouts) Action {
	c.podRef(path+".in", s.In)
	if len(s.Command) == 0 || s.Command[0] == "" {
		c.errorf(path+".command", "required: the command and its arguments")
	}
	for j, arg := range s.Command {
		c.checkPlaceholders(fmt.Sprintf("%s.command[%d]", path, j), arg)
	}
	a := &ExecAction{StepInfo: info, In: s.In, Argv: s.Command,
		Timeout: c.duration(path+".timeout", s.Timeout, t.Exec), Convergence: c.convergence(path, s.ConvergenceSpec, t)}
	e := s.Expect
	if e.ExitCode != nil {
		if *e.ExitCode < 0 || *e.ExitCode > 255 {
			c.errorf(path+".expect.exitCode", "must be between 0 and 255, got %d", *e.ExitCode)
		}
		a.Expect.ExitCode = *e.ExitCode
	}
	a.Expect.StdoutContains, a.Expect.StdoutNotContains, a.Expect.StderrContains = e.StdoutContains, e.StdoutNotContains, e.StderrContains
	for _, l := range []struct {
		name string
		vals []string
	}{{"stdoutContains", e.StdoutContains}, {"stdoutNotContains", e.StdoutNotContains}, {"stderrContains", e.StderrContains}} {
		for j, v := range l.vals {
			c.checkPlaceholders(fmt.Sprintf("%s.expect.%s[%d]", path, l.name, j), v)
		}
	}
	if e.StdoutMatches != "" {
		re, err := regexp.Compile(e.StdoutMatches)
		if err != nil {
			c.errorf(path+".expect.stdoutMatches", "invalid regular expression: %v", err)
		}
		a.Expect.StdoutMatches = re
	}
	return a
}

func (c *compiler) probe(path string, info StepInfo, s *ProbeStep, t Timeouts) Action {
	srcNS := c.podRef(path+".from", s.From)
	req := ProbeRequest{URL: s.URL, TCP: s.TCP, Method: s.Method, Headers: s.Headers, Body: s.Body, HTTP2: s.HTTP2,
		Timeout: c.duration(path+".timeout", s.Timeout, t.Probe)}
	e := s.Expect
	exp := ProbeExpectation{Outcome: OutcomeOK, Status: e.Status, BodyContains: e.BodyContains, BodyNotContains: e.BodyNotContains,
		ObservedSourceIP: e.ObservedSourceIP, ObservedIdentity: e.ObservedIdentity, Path: e.Path, NoPlaintext: e.NoPlaintext}
	if e.Outcome != "" {
		o, err := ParseOutcome(e.Outcome)
		if err != nil {
			c.errorf(path+".expect.outcome", "%v", err)
		}
		exp.Outcome = o
	}
	switch {
	case (s.URL == "") == (s.TCP == ""):
		c.errorf(path+".url", "set exactly one of url and tcp")
	case s.URL != "":
		c.httpTarget(path+".url", s.URL, srcNS, exp.Outcome == OutcomeOK)
		if s.Method != "" && !httpTokenRE.MatchString(s.Method) {
			c.errorf(path+".method", "invalid HTTP method %q", s.Method)
		}
	default:
		c.tcpTarget(path+".tcp", s.TCP, srcNS, exp.Outcome == OutcomeOK)
		for field, set := range map[string]bool{"method": s.Method != "", "headers": len(s.Headers) > 0, "http2": s.HTTP2} {
			if set {
				c.errorf(path+"."+field, "only for url probes, not tcp")
			}
		}
		if e.Status != 0 {
			c.errorf(path+".expect.status", "only for url probes, not tcp")
		}
	}
	for k := range s.Headers {
		if !httpTokenRE.MatchString(k) {
			c.errorf(path+".headers", "invalid header name %q", k)
		}
	}
	if e.Status != 0 && (e.Status < 100 || e.Status > 599) {
		c.errorf(path+".expect.status", "must be an HTTP status 100-599, got %d", e.Status)
	}
	if exp.Outcome != OutcomeOK && exp.Outcome != "" {
		for field, set := range map[string]bool{"status": e.Status != 0, "bodyContains": len(e.BodyContains) > 0,
			"bodyNotContains": len(e.BodyNotContains) > 0, "observedSourceIP": e.ObservedSourceIP != "", "observedIdentity": e.ObservedIdentity != ""} {
			if set {
				c.errorf(path+".expect."+field, "cannot be checked when the expected outcome is %s", exp.Outcome)
			}
		}
	}
	c.checkPlaceholders(path+".body", s.Body)
	for j, v := range e.BodyContains {
		c.checkPlaceholders(fmt.Sprintf("%s.expect.bodyContains[%d]", path, j), v)
	}
	if ip := e.ObservedSourceIP; ip != "" && ip != "source" && net.ParseIP(c.checkPlaceholders(path+".expect.observedSourceIP", ip)) == nil {
		c.errorf(path+".expect.observedSourceIP", "%q: want \"source\", an IP address or a ${podIP:...} placeholder", ip)
	}
	info.Requires = c.expectationCaps(path, e)
	return &ProbeAction{StepInfo: info, From: s.From, Request: req, Expect: exp, Convergence: c.convergence(path, s.ConvergenceSpec, t)}
}

var (
	httpTokenRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	spiffeRE    = regexp.MustCompile(`^spiffe://[^/]+/ns/[^/]+/sa/[^/]+$`)
	pathHopRE   = regexp.MustCompile(`^(ztunnel:node-\d+|waypoint:[a-z0-9-]+/[a-z0-9.-]+|sidecar:[a-z0-9-]+/[a-z0-9.-]+)$`)
)

// expectationCaps checks expectations that only some backends can observe
// and returns the capabilities they need; the runner skips the step (and so
// the scenario) on a backend without them instead of passing it unchecked.
func (c *compiler) expectationCaps(path string, e ProbeExpect) []Capability {
	var caps []Capability
	if e.ObservedIdentity != "" {
		if !spiffeRE.MatchString(e.ObservedIdentity) {
			c.errorf(path+".expect.observedIdentity", "%q: want spiffe://TRUST-DOMAIN/ns/NS/sa/SA", e.ObservedIdentity)
		}
		caps = append(caps, CapMTLSIdentity)
	}
	for j, hop := range e.Path {
		if !pathHopRE.MatchString(hop) {
			c.errorf(fmt.Sprintf("%s.expect.path[%d]", path, j), "%q: want ztunnel:node-N, waypoint:NS/NAME or sidecar:NS/POD", hop)
		}
	}
	if len(e.Path) > 0 {
		caps = append(caps, CapAccessLogs)
	}
	if e.NoPlaintext {
		caps = append(caps, CapPacketCapture)
	}
	for _, cap := range caps {
		c.req[cap] = true
	}
	return caps
}

func (c *compiler) matrix(path string, info StepInfo, s *MatrixStep, t Timeouts) Action {
	a := &MatrixAction{StepInfo: info, Timeout: c.duration(path+".timeout", s.Timeout, t.Probe), Convergence: c.convergence(path, s.ConvergenceSpec, t)}
	if len(s.Sources) == 0 {
		c.errorf(path+".sources", "required: label → pod (NS/POD or NS/deploy/NAME)")
	}
	if len(s.Targets) == 0 {
		c.errorf(path+".targets", "required: label → http://... or tcp://HOST:PORT")
	}
	if strings.TrimSpace(s.Expect) == "" {
		c.errorf(path+".expect", "required: the expected grid")
		return a
	}
	grid, gerrs := ParseGrid(s.Expect)
	keyLine := c.obj.FieldLine(path + ".expect")
	for _, ge := range gerrs {
		line := keyLine
		if keyLine > 0 && keyLine <= len(c.lines) && strings.ContainsAny(c.lines[keyLine-1], "|>") {
			line = keyLine + ge.Line
		}
		c.errs = append(c.errs, &manifest.Error{File: c.file, Line: line, Kind: "Scenario", Name: c.obj.Name,
			Field: path + ".expect", Msg: ge.Msg})
	}
	a.Want = grid
	sameLabels := func(field string, labels []string, m map[string]string) {
		var missing, extra []string
		for _, l := range labels {
			if _, ok := m[l]; !ok {
				extra = append(extra, l)
			}
		}
		for k := range m {
			if !contains(labels, k) {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		if len(extra) > 0 {
			c.errorf(path+".expect", "grid %s %s not declared in %s", field, strings.Join(extra, ", "), field)
		}
		if len(missing) > 0 {
			c.errorf(path+".expect", "grid has no %s for %s declared in %s", strings.TrimSuffix(field, "s"), strings.Join(missing, ", "), field)
		}
	}
	if len(gerrs) == 0 {
		sameLabels("targets", grid.Columns, s.Targets)
		sameLabels("sources", grid.Rows, s.Sources)
	}
	srcNS := map[string]string{}
	for _, row := range sortedKeys(s.Sources) {
		srcNS[row] = c.podRef(fmt.Sprintf("%s.sources[%q]", path, row), s.Sources[row])
	}
	for _, col := range sortedKeys(s.Targets) {
		target, field := s.Targets[col], fmt.Sprintf("%s.targets[%q]", path, col)
		// A target's references must resolve when some row expects to reach it.
		needed, ns := false, ""
		for r, row := range grid.Rows {
			if j := indexOf(grid.Columns, col); j >= 0 && r < len(grid.Cells) && grid.Cells[r][j].Outcome == OutcomeOK {
				needed, ns = true, srcNS[row]
			}
		}
		switch {
		case strings.HasPrefix(target, "tcp://"):
			c.tcpTarget(field, strings.TrimPrefix(target, "tcp://"), ns, needed)
		case strings.HasPrefix(target, "http://"), strings.HasPrefix(target, "https://"):
			c.httpTarget(field, target, ns, needed)
		default:
			c.errorf(field, "%q: want http://... or tcp://HOST:PORT", target)
		}
	}
	for _, row := range grid.Rows {
		a.Sources = append(a.Sources, Labeled{Label: row, Value: s.Sources[row]})
	}
	for _, col := range grid.Columns {
		a.Targets = append(a.Targets, Labeled{Label: col, Value: s.Targets[col]})
	}
	return a
}

func (c *compiler) wait(path string, info StepInfo, s *WaitStep, t Timeouts) Action {
	a := &WaitAction{StepInfo: info, Timeout: c.duration(path+".timeout", s.Timeout, t.Step)}
	if s.For == "" {
		c.errorf(path+".for", "required: podsReady or duration")
		return a
	}
	f, err := ParseWaitFor(s.For)
	if err != nil {
		c.errorf(path+".for", "%v", err)
		return a
	}
	a.For = f
	switch {
	case f == WaitDuration && s.Duration == "":
		c.errorf(path+".duration", "required when for is duration")
	case f != WaitDuration && s.Duration != "":
		c.errorf(path+".duration", "only when for is duration")
	}
	a.Duration = c.duration(path+".duration", s.Duration, 0)
	return a
}

// httpTarget checks a URL and, when the probe is expected to connect, that
// any cluster name in it resolves to a Service in the file.
func (c *compiler) httpTarget(field, raw, srcNS string, mustResolve bool) {
	checked := c.checkPlaceholders(field, raw)
	u, err := url.Parse(checked)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.errorf(field, "%q: want an absolute http:// or https:// URL", raw)
		return
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			c.errorf(field, "invalid port %q", p)
			return
		}
		port = n
	}
	if mustResolve {
		c.serviceHost(field, u.Hostname(), port, srcNS)
	}
}

func (c *compiler) tcpTarget(field, hostport, srcNS string, mustResolve bool) {
	host, p, err := net.SplitHostPort(c.checkPlaceholders(field, hostport))
	n, perr := strconv.Atoi(p)
	if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		c.errorf(field, "%q: want HOST:PORT", hostport)
		return
	}
	if mustResolve {
		c.serviceHost(field, host, n, srcNS)
	}
}

func contains(l []string, s string) bool { return indexOf(l, s) >= 0 }

func indexOf(l []string, s string) int {
	for i, v := range l {
		if v == s {
			return i
		}
	}
	return -1
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
