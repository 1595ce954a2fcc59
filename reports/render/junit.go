package render

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
)

// The JUnit structs follow the de-facto schema Jenkins, GitLab and Spyglass
// read. They are exported to tests through parsing only.
type junitTestSuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Skipped  int              `xml:"skipped,attr"`
	Time     string           `xml:"time,attr"`
	Suites   []junitTestSuite `xml:"testsuite"`
}

type junitTestSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Timestamp  string           `xml:"timestamp,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitTestCase  `xml:"testcase"`
}

// junitProperties is a pointer field so that an empty list emits no element
// (encoding/xml's "a>b,omitempty" still writes the empty parent).
type junitProperties struct {
	Property []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Name       string           `xml:"name,attr"`
	Classname  string           `xml:"classname,attr"`
	Status     string           `xml:"status,attr"`
	Time       string           `xml:"time,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Skipped    *junitSkipped    `xml:"skipped,omitempty"`
	Failure    *junitFailure    `xml:"failure,omitempty"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

// JUnit writes one <testsuite> per profile and one <testcase> per result. It
// is kept concise (kubernetes#111510): the testcase name carries the ginkgo
// labels in brackets ("L4Foo [AMBIENT-L4, Core, Feature:L4]"), a skip is
// <skipped message="reason: message">, a failure carries its message, and a
// passing test gets no output and no properties beyond a non-zero retry count.
func JUnit(w io.Writer, r *v1.ConformanceReport) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("render JUnit: %w", err)
	}
	doc := junitTestSuites{Name: "ambientlab conformance"}
	var total time.Duration
	for start := 0; start < len(r.Tests); {
		end := start
		for end < len(r.Tests) && r.Tests[end].Profile == r.Tests[start].Profile {
			end++
		}
		suite, d := junitSuite(r, r.Tests[start:end])
		doc.Suites = append(doc.Suites, suite)
		doc.Tests += suite.Tests
		doc.Failures += suite.Failures
		doc.Skipped += suite.Skipped
		total += d
		start = end
	}
	doc.Time = seconds(total)
	ew := &errWriter{w: w}
	io.WriteString(ew, xml.Header)
	enc := xml.NewEncoder(ew)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("render JUnit: %w", err)
	}
	io.WriteString(ew, "\n")
	return ew.err
}

func junitSuite(r *v1.ConformanceReport, tests []v1.TestResult) (junitTestSuite, time.Duration) {
	s := junitTestSuite{
		Name:      tests[0].Profile,
		Timestamp: r.Date,
		Properties: &junitProperties{Property: []junitProperty{
			{"implementation", fmt.Sprintf("%s/%s %s", r.Organization, r.Project, r.Version)},
			{"dataPlane", r.Provenance.DataPlane},
			{"backend", r.Provenance.Backend.String()},
			{"harnessVersion", r.Provenance.HarnessVersion},
			{"commit", r.Provenance.Commit},
			{"kernel", r.Provenance.Kernel},
			{"goVersion", r.Provenance.GoVersion},
		}},
	}
	var total time.Duration
	for _, t := range tests {
		s.Cases = append(s.Cases, junitCase(t))
		s.Tests++
		switch {
		case t.Result.IsSkip():
			s.Skipped++
		case t.Result != v1.Succeeded:
			s.Failures++
		}
		total += t.Duration.Std()
	}
	s.Time = seconds(total)
	return s, total
}

func junitCase(t v1.TestResult) junitTestCase {
	c := junitTestCase{
		Name:      t.Name + " [" + strings.Join(Labels(t), ", ") + "]",
		Classname: t.Profile,
		Status:    t.Result.String(),
		Time:      seconds(t.Duration.Std()),
	}
	var props []junitProperty
	if t.Retries > 0 {
		props = append(props, junitProperty{"retries", fmt.Sprint(t.Retries)})
	}
	switch {
	case t.Result == v1.Succeeded:
	case t.Result.IsSkip():
		msg := t.Reason.String()
		if t.Message != "" {
			msg += ": " + t.Message
		}
		c.Skipped = &junitSkipped{Message: msg}
		props = append(props, diagnostics(t)...)
	default:
		first, _, _ := strings.Cut(t.Message, "\n")
		body := t.Message
		if !t.Reason.IsZero() {
			body += "\n(" + t.Reason.String() + ")"
		}
		c.Failure = &junitFailure{Message: first, Type: t.Result.String(), Body: body}
		props = append(props, diagnostics(t)...)
	}
	if len(props) > 0 {
		c.Properties = &junitProperties{Property: props}
	}
	return c
}

// diagnostics are the properties of a test that did not pass: where it was
// enforced, the path, how long convergence took, and its evidence.
func diagnostics(t v1.TestResult) []junitProperty {
	var ps []junitProperty
	if t.TimeToConsistency > 0 {
		ps = append(ps, junitProperty{"timeToConsistency", t.TimeToConsistency.String()})
	}
	if t.EnforcedBy != "" {
		ps = append(ps, junitProperty{"enforcedBy", t.EnforcedBy.String()})
	}
	if len(t.HandledBy) > 0 {
		hops := make([]string, len(t.HandledBy))
		for n, h := range t.HandledBy {
			hops[n] = h.String()
		}
		ps = append(ps, junitProperty{"handledBy", strings.Join(hops, " → ")})
	}
	for _, e := range t.Evidence {
		ps = append(ps, junitProperty{"evidence." + e.Kind.String(), evidenceLine(e)})
	}
	return ps
}

// Labels are a result's ginkgo labels (conventions.md §5.3): profile, Core or
// Extended, Provisional, then Feature:<name> per feature.
func Labels(t v1.TestResult) []string {
	labels := []string{t.Profile, "Extended"}
	if t.Core {
		labels[1] = "Core"
	}
	if t.Provisional {
		labels = append(labels, "Provisional")
	}
	for _, f := range t.Features {
		labels = append(labels, "Feature:"+f)
	}
	return labels
}

func evidenceLine(e v1.Evidence) string {
	s := e.Summary
	if e.Path != "" {
		s += " (" + e.Path + ")"
	}
	if e.Digest != "" {
		s += " " + e.Digest
	}
	return s
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
