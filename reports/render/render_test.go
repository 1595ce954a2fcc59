package render

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
	"github.com/ambientlab/ambientlab/reports/build"
	"github.com/ambientlab/ambientlab/reports/internal/fixture"
	"github.com/ambientlab/ambientlab/reports/internal/golden"
)

func fixtureReport(t *testing.T) *v1.ConformanceReport {
	t.Helper()
	r, err := build.Build(fixture.Implementation(), fixture.Provenance(), fixture.Date, fixture.Results())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func render(t *testing.T, f func(io.Writer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGolden renders the fixture (passed, failed and skipped tests with every
// reason class, over two profiles) with each renderer, twice, and compares
// with testdata. Rendering twice proves the output is stable.
func TestGolden(t *testing.T) {
	r := fixtureReport(t)
	mesh, err := build.Build(fixture.Implementation(), fixture.Provenance(), fixture.Date, fixture.MeshResults())
	if err != nil {
		t.Fatal(err)
	}
	upstream, err := build.GatewayAPI(mesh, "v1.6.3", v1.ChannelStandard)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file   string
		render func(io.Writer) error
	}{
		{"report.yaml", func(w io.Writer) error { return YAML(w, r) }},
		{"report.json", func(w io.Writer) error { return JSON(w, r) }},
		{"junit.xml", func(w io.Writer) error { return JUnit(w, r) }},
		{"summary.md", func(w io.Writer) error { return Markdown(w, r) }},
		{"report.html", func(w io.Writer) error { return HTML(w, r) }},
		{"gateway-api-report.yaml", func(w io.Writer) error { return YAML(w, upstream) }},
	} {
		t.Run(tt.file, func(t *testing.T) {
			first, second := render(t, tt.render), render(t, tt.render)
			if !bytes.Equal(first, second) {
				t.Fatal("rendering the same report twice gave different bytes")
			}
			golden.Assert(t, tt.file, first)
		})
	}
}

func TestRenderersRefuseInvalidReports(t *testing.T) {
	r := fixtureReport(t)
	r.Tests[1].Reason = v1.Reason{} // L4DualStack: a skip without a reason
	for name, f := range map[string]func(io.Writer) error{
		"YAML":     func(w io.Writer) error { return YAML(w, r) },
		"JSON":     func(w io.Writer) error { return JSON(w, r) },
		"JUnit":    func(w io.Writer) error { return JUnit(w, r) },
		"Markdown": func(w io.Writer) error { return Markdown(w, r) },
		"HTML":     func(w io.Writer) error { return HTML(w, r) },
		"WriteDir": func(io.Writer) error { return WriteDir(t.TempDir(), r) },
	} {
		var b bytes.Buffer
		if err := f(&b); err == nil || !strings.Contains(err.Error(), "without a reason") || b.Len() > 0 {
			t.Errorf("%s: err = %v, wrote %d bytes; want a refusal and no output", name, err, b.Len())
		}
	}
}

func TestJUnitRoundTrip(t *testing.T) {
	out := render(t, func(w io.Writer) error { return JUnit(w, fixtureReport(t)) })
	// Well-formed: a full token walk succeeds.
	dec := xml.NewDecoder(bytes.NewReader(out))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("invalid XML: %v", err)
		}
	}
	var doc junitTestSuites
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 11 || doc.Failures != 2 || doc.Skipped != 5 || doc.Errors != 0 || len(doc.Suites) != 2 {
		t.Fatalf("totals = %+v", doc)
	}
	cases := map[string]junitTestCase{}
	for _, s := range doc.Suites {
		n, f, sk := 0, 0, 0
		for _, c := range s.Cases {
			cases[c.Name] = c
			n++
			if c.Failure != nil {
				f++
			}
			if c.Skipped != nil {
				sk++
			}
		}
		if n != s.Tests || f != s.Failures || sk != s.Skipped {
			t.Errorf("suite %s attributes %d/%d/%d, cases %d/%d/%d", s.Name, s.Tests, s.Failures, s.Skipped, n, f, sk)
		}
	}
	fail := cases["L4AuthzDenyByPrincipal [AMBIENT-L4, Core, Feature:L4Authz]"]
	if fail.Failure == nil || fail.Failure.Message != "expected the destination ztunnel to reset the connection, got HTTP 200" ||
		!strings.Contains(fail.Failure.Body, "3 consecutive attempts") || fail.Time != "31.050" {
		t.Errorf("failed case = %+v", fail)
	}
	skip := cases["L4DualStack [AMBIENT-L4, Extended, Feature:DualStack]"]
	if skip.Skipped == nil || skip.Skipped.Message != "env-unavailable: IPv6 is disabled on this host (net.ipv6.conf.all.disable_ipv6=1)" {
		t.Errorf("skipped case = %+v", skip)
	}
	pass := cases["L4ServiceReachable [AMBIENT-L4, Core, Feature:L4]"]
	if pass.Failure != nil || pass.Skipped != nil || pass.Properties != nil {
		t.Errorf("a passing case must stay bare: %+v", pass)
	}
	flaky := cases["L4ProbeSNATAllowed [AMBIENT-L4, Extended, Feature:L4, Feature:ProbeSNAT]"]
	if flaky.Properties == nil || len(flaky.Properties.Property) != 1 || flaky.Properties.Property[0] != (junitProperty{"retries", "1"}) {
		t.Errorf("a passing case that retried reports its retries: %+v", flaky)
	}
	if bytes.Contains(out, []byte("system-out")) {
		t.Error("JUnit must not carry captured output")
	}
}

// resourceLoad matches anything that would make a browser fetch something.
var resourceLoad = regexp.MustCompile(`(?i)<script|<link|<img|<iframe|<object|<embed|<source|\bsrc\s*=|@import|url\(`)

// TestHTMLIsSelfContained: the page must load nothing: no scripts,
// stylesheets, images or CSS imports; http(s) URLs appear only as link targets.
func TestHTMLIsSelfContained(t *testing.T) {
	r := fixtureReport(t)
	other := fixtureReport(t)
	other.Project, other.Provenance.Backend = "other-mesh", v1.BackendKind
	out := string(render(t, func(w io.Writer) error { return HTML(w, r, other) }))
	if m := resourceLoad.FindString(out); m != "" {
		t.Errorf("HTML loads a resource: %q", m)
	}
	for _, m := range regexp.MustCompile(`.{0,12}https?://`).FindAllString(out, -1) {
		if !strings.HasSuffix(m, `<a href="http://`) && !strings.HasSuffix(m, `<a href="https://`) &&
			!strings.HasSuffix(m, `">https://`) && !strings.HasSuffix(m, `">http://`) && !strings.HasSuffix(m, "— https://") {
			t.Errorf("http(s) URL outside a link: %q", m)
		}
	}
	if !strings.Contains(out, "<style>") || strings.Count(out, `<td class="o-fail"`) != 4 {
		t.Errorf("want inline CSS and a coloured matrix with two failures per report")
	}
}

func TestHTMLEscapes(t *testing.T) {
	r := fixtureReport(t)
	for n := range r.Tests {
		if r.Tests[n].Name == "L7Retries" {
			r.Tests[n].Message = `<script>alert(1)</script>`
		}
	}
	out := string(render(t, func(w io.Writer) error { return HTML(w, r) }))
	if strings.Contains(out, "<script>") || !strings.Contains(out, "&lt;script&gt;") {
		t.Error("messages must be escaped")
	}
	if err := HTML(io.Discard); err == nil {
		t.Error("HTML with no report must fail")
	}
}

func TestMarkdownEscapes(t *testing.T) {
	if got := cell("a|b\nc <d> *e*"); got != `a\|b<br>c &lt;d&gt; \*e\*` {
		t.Errorf("cell = %q", got)
	}
	if got := codeFence("x ```` y"); got != "`````" {
		t.Errorf("fence = %q", got)
	}
}

func TestMarkdownEmptyRun(t *testing.T) {
	r, err := build.Build(fixture.Implementation(), fixture.Provenance(), fixture.Date, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := string(render(t, func(w io.Writer) error { return Markdown(w, r) }))
	if !strings.HasPrefix(out, "# ⚠️ ambientlab conformance: PARTIAL") || !strings.Contains(out, "No tests ran") {
		t.Errorf("an empty run must not read as a pass:\n%s", out)
	}
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conformance")
	r := fixtureReport(t)
	if err := WriteDir(dir, r); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "junit.xml report.html report.yaml summary.md" {
		t.Fatalf("wrote %v", names)
	}
	b, err := os.ReadFile(filepath.Join(dir, YAMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v1.Decode(b); err != nil {
		t.Errorf("written report does not decode: %v", err)
	}
}
