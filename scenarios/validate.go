package scenarios

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

// Limits on the cluster shape (the simulator's own limit is 250 nodes).
const (
	DefaultNodes = 2
	MaxNodes     = 250
)

// compiler validates a Scenario against its file's manifests and resolves
// it, collecting every problem with its line. Steps are checked against the
// objects as they will be at that step (apply and delete steps change them),
// so a probe from a Deployment created by an earlier apply step is fine and
// one from a Deployment deleted by an earlier step is not.
type compiler struct {
	file  string
	lines []string // the file's lines, to tell literal blocks from flow scalars
	obj   manifest.Object
	sc    *Scenario
	all   *manifest.Set
	// current is the set of objects at the step being checked; nil once an
	// earlier problem makes it unknowable (then reference checks are skipped
	// rather than reporting follow-on noise).
	current *manifest.Set
	req     map[Capability]bool
	errs    manifest.ErrorList
}

func newCompiler(file string, data []byte, obj manifest.Object, all *manifest.Set) *compiler {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	return &compiler{file: file, lines: strings.Split(text, "\n"), obj: obj, sc: obj.Obj.(*Scenario), all: all,
		req: map[Capability]bool{}}
}

func (c *compiler) errorf(path, format string, args ...any) {
	c.errs = append(c.errs, c.obj.ErrorAt(path, format, args...))
}

func (c *compiler) addErr(err error) {
	var l manifest.ErrorList
	if errors.As(err, &l) {
		c.errs = append(c.errs, l...)
		return
	}
	c.errs = append(c.errs, &manifest.Error{File: c.file, Msg: err.Error()})
}

func (c *compiler) compile() *Resolved {
	spec := &c.sc.Spec
	r := &Resolved{Name: c.obj.Name, File: c.file, Line: c.obj.Source.Line, Description: spec.Description}

	base := &manifest.Set{}
	for _, o := range c.all.Objects {
		if o.GVK != GVK {
			base.Objects = append(base.Objects, o)
		}
	}
	c.profileAndFeatures(r)
	r.Nodes = spec.Cluster.Nodes
	switch {
	case r.Nodes == 0:
		r.Nodes = DefaultNodes
	case r.Nodes < 1 || r.Nodes > MaxNodes:
		c.errorf("spec.cluster.nodes", "must be between 1 and %d, got %d", MaxNodes, r.Nodes)
		r.Nodes = DefaultNodes
	}
	c.placement(base, r.Nodes)
	// The whole file validates together, Scenario included (its name), so
	// base problems and scenario problems come out in one list.
	withScenario := &manifest.Set{Objects: c.all.Objects}
	if err := withScenario.Validate(); err != nil {
		c.addErr(err)
	} else {
		base.Warnings = withScenario.Warnings
	}
	// References are checked against the base even when it has problems of
	// its own, so one pass reports both; the base's errors that step merges
	// repeat are identical and dropped by ErrorList.Sort.
	c.current = base
	r.Manifests = base
	c.impliedByManifests(base)
	r.Timeouts = c.timeouts()
	if len(spec.Steps) == 0 {
		c.errorf("spec.steps", "required: at least one step")
	}
	for i, s := range spec.Steps {
		if a := c.step(i, s, r.Timeouts); a != nil {
			r.Steps = append(r.Steps, a)
		}
	}
	for cap := range c.req {
		r.Requires = append(r.Requires, cap)
	}
	slices.Sort(r.Requires)
	return r
}

func (c *compiler) profileAndFeatures(r *Resolved) {
	spec := &c.sc.Spec
	if spec.Profile == "" {
		c.errorf("spec.profile", "required")
	} else if p, err := ParseProfile(spec.Profile); err != nil {
		c.errorf("spec.profile", "%v", err)
	} else {
		r.Profile = p
	}
	if len(spec.Features) == 0 {
		c.errorf("spec.features", "required: name at least one feature the scenario exercises")
	}
	for i, s := range spec.Features {
		f, err := ParseFeature(s)
		if err != nil {
			c.errorf(fmt.Sprintf("spec.features[%d]", i), "%v", err)
			continue
		}
		if slices.Contains(r.Features, f) {
			c.errorf(fmt.Sprintf("spec.features[%d]", i), "duplicate feature %s", f)
			continue
		}
		r.Features = append(r.Features, f)
		for _, cap := range f.Requires() {
			c.req[cap] = true
		}
	}
	for i, s := range spec.Requires {
		cap, err := ParseCapability(s)
		if err != nil {
			c.errorf(fmt.Sprintf("spec.requires[%d]", i), "%v", err)
			continue
		}
		c.req[cap] = true
	}
}

// placement pins pods to nodes by setting spec.nodeName on the decoded
// objects, which is what a user would write by hand.
func (c *compiler) placement(base *manifest.Set, nodes int) {
	for i, p := range c.sc.Spec.Cluster.Placement {
		path := fmt.Sprintf("spec.cluster.placement[%d]", i)
		if !validNode(p.Node, nodes) {
			c.errorf(path+".node", "node %q does not exist (nodes are node-0..node-%d)", p.Node, nodes-1)
		}
		var kind, ref string
		switch {
		case (p.Pod == "") == (p.Deployment == ""):
			c.errorf(path, "set exactly one of pod or deployment")
			continue
		case p.Pod != "":
			kind, ref = "Pod", p.Pod
		default:
			kind, ref = "Deployment", p.Deployment
		}
		ns, name, ok := strings.Cut(ref, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			c.errorf(path+"."+strings.ToLower(kind[:1])+kind[1:], "%q: want NAMESPACE/NAME", ref)
			continue
		}
		group := ""
		if kind == "Deployment" {
			group = "apps"
		}
		o, found := base.Get(manifest.Key{Group: group, Kind: kind, Namespace: ns, Name: name})
		if !found {
			c.errorf(path+"."+strings.ToLower(kind[:1])+kind[1:], "%s %s not found in this file", kind, ref)
			continue
		}
		var spec *corev1.PodSpec
		switch t := o.Obj.(type) {
		case *corev1.Pod:
			spec = &t.Spec
		case *appsv1.Deployment:
			spec = &t.Spec.Template.Spec
		}
		if spec.NodeName != "" && spec.NodeName != p.Node {
			c.errorf(path+".node", "%s %s already sets nodeName %q", kind, ref, spec.NodeName)
			continue
		}
		spec.NodeName = p.Node
	}
}

func validNode(name string, nodes int) bool {
	var i int
	if _, err := fmt.Sscanf(name, "node-%d", &i); err != nil {
		return false
	}
	return i >= 0 && i < nodes && name == fmt.Sprintf("node-%d", i)
}

func (c *compiler) duration(path, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		c.errorf(path, "invalid duration %q (want e.g. 500ms, 5s, 1m)", s)
		return def
	case d <= 0:
		c.errorf(path, "must be > 0, got %s", s)
		return def
	}
	return d
}

func (c *compiler) timeouts() Timeouts {
	t := DefaultTimeouts()
	s := c.sc.Spec.Timeouts
	t.MaxTimeToConsistency = c.duration("spec.timeouts.maxTimeToConsistency", s.MaxTimeToConsistency, t.MaxTimeToConsistency)
	t.Probe = c.duration("spec.timeouts.probe", s.Probe, t.Probe)
	t.Exec = c.duration("spec.timeouts.exec", s.Exec, t.Exec)
	t.Step = c.duration("spec.timeouts.step", s.Step, t.Step)
	switch n := s.RequiredConsecutiveSuccesses; {
	case n < 0:
		c.errorf("spec.timeouts.requiredConsecutiveSuccesses", "must be >= 1, got %d", n)
	case n > 0:
		t.RequiredConsecutiveSuccesses = n
	}
	return t
}

func (c *compiler) convergence(path string, s ConvergenceSpec, t Timeouts) Convergence {
	out := Convergence{Mode: ConvergeEventually, Consecutive: t.RequiredConsecutiveSuccesses, Timeout: t.MaxTimeToConsistency}
	if s.Eventually != nil && s.Consistently != nil {
		c.errorf(path+".consistently", "set at most one of eventually and consistently")
		return out
	}
	if e := s.Eventually; e != nil {
		if e.Consecutive < 0 {
			c.errorf(path+".eventually.consecutive", "must be >= 1, got %d", e.Consecutive)
		} else if e.Consecutive > 0 {
			out.Consecutive = e.Consecutive
		}
		out.Timeout = c.duration(path+".eventually.timeout", e.Timeout, out.Timeout)
	}
	if s.Consistently != nil {
		if s.Consistently.Duration == "" {
			c.errorf(path+".consistently.duration", "required")
		}
		out = Convergence{Mode: ConvergeConsistently, Duration: c.duration(path+".consistently.duration", s.Consistently.Duration, time.Second)}
	}
	return out
}
