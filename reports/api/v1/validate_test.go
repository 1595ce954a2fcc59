package v1_test

import (
	"strings"
	"testing"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
	"github.com/ambientlab/ambientlab/reports/build"
	"github.com/ambientlab/ambientlab/reports/internal/fixture"
)

func validReport(t *testing.T) *v1.ConformanceReport {
	t.Helper()
	r, err := build.Build(fixture.Implementation(), fixture.Provenance(), fixture.Date, fixture.Results())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testIndex finds a test by name in a built (sorted) report.
func testIndex(t *testing.T, r *v1.ConformanceReport, name string) int {
	t.Helper()
	for n, x := range r.Tests {
		if x.Name == name {
			return n
		}
	}
	t.Fatalf("no test %s", name)
	return -1
}

func TestConformanceReportValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, r *v1.ConformanceReport)
		want   []string // substrings the error must contain; none means valid
	}{
		{"valid", func(*testing.T, *v1.ConformanceReport) {}, nil},
		{"skip without reason", func(t *testing.T, r *v1.ConformanceReport) {
			r.Tests[testIndex(t, r, "L4DualStack")].Reason = v1.Reason{}
		}, []string{"AMBIENT-L4/L4DualStack", "SKIPPED without a reason"}},
		{"provisional skip without reason", func(t *testing.T, r *v1.ConformanceReport) {
			r.Tests[testIndex(t, r, "L7RequestMirror")].Reason = v1.Reason{}
		}, []string{"PROVISIONAL_SKIPPED without a reason"}},
		{"skip for a missing capability names it", func(t *testing.T, r *v1.ConformanceReport) {
			n := testIndex(t, r, "L4DualStack")
			r.Tests[n].Reason, r.Tests[n].Message = v1.ReasonOf(v1.ReasonNotSupported), ""
		}, []string{"a skip for a missing capability must name it"}},
		{"not-supported core test", func(t *testing.T, r *v1.ConformanceReport) {
			n := testIndex(t, r, "L4ServiceReachable")
			r.Tests[n].Result, r.Tests[n].Reason = v1.NotSupported, v1.ReasonOf(v1.ReasonNotSupported)
		}, []string{"a core test cannot be NOT_SUPPORTED"}},
		{"passed test with a reason", func(t *testing.T, r *v1.ConformanceReport) {
			r.Tests[testIndex(t, r, "L4ServiceReachable")].Reason = v1.ReasonOf(v1.ReasonFiltered)
		}, []string{"a passed test carries no reason"}},
		{"failure without message", func(t *testing.T, r *v1.ConformanceReport) {
			r.Tests[testIndex(t, r, "L7Retries")].Message = " "
		}, []string{"AMBIENT-L7/L7Retries", "needs a message"}},
		{"failure with a skip reason", func(t *testing.T, r *v1.ConformanceReport) {
			r.Tests[testIndex(t, r, "L7Retries")].Reason = v1.ReasonOf(v1.ReasonFiltered)
		}, []string{"can only be expected-fail"}},
		{"counts do not add up", func(t *testing.T, r *v1.ConformanceReport) {
			r.ProfileReports[0].Core.Passed++
		}, []string{"profiles[0] (AMBIENT-L4).core: counts do not add up", "Passed=2", "Passed=1"}},
		{"a skip counted as a pass", func(t *testing.T, r *v1.ConformanceReport) {
			e := r.ProfileReports[0].Extended
			e.Skipped--
			e.Passed++
		}, []string{"extended: counts do not add up"}},
		{"result contradicts statistics", func(t *testing.T, r *v1.ConformanceReport) {
			r.ProfileReports[1].Extended.Result = v1.Success
		}, []string{`result is "success" but the tests make it "failure"`}},
		{"unknown result", func(t *testing.T, r *v1.ConformanceReport) {
			r.ProfileReports[1].Core.Result = "ok"
		}, []string{`result is "ok"`}},
		{"skipped list wrong", func(t *testing.T, r *v1.ConformanceReport) {
			r.ProfileReports[0].Extended.SkippedTests = []string{"L4NativeNftables", "L4DualStack"}
		}, []string{"skippedTests is [L4NativeNftables L4DualStack]"}},
		{"failed list wrong", func(t *testing.T, r *v1.ConformanceReport) {
			r.ProfileReports[0].Core.FailedTests = nil
		}, []string{"failedTests is []"}},
		{"unsorted tests", func(t *testing.T, r *v1.ConformanceReport) {
			r.Tests[0], r.Tests[1] = r.Tests[1], r.Tests[0]
		}, []string{"not sorted by profile then name"}},
		{"unsorted profiles", func(t *testing.T, r *v1.ConformanceReport) {
			r.ProfileReports[0], r.ProfileReports[1] = r.ProfileReports[1], r.ProfileReports[0]
		}, []string{"profiles[1] (AMBIENT-L4): not sorted"}},
		{"unsorted features", func(t *testing.T, r *v1.ConformanceReport) {
			n := testIndex(t, r, "L7WaypointAuthzByHeader")
			r.Tests[n].Features = []string{"Waypoint", "L7Authz"}
		}, []string{`features[1] "L7Authz": not sorted`}},
		{"unsorted evidence", func(t *testing.T, r *v1.ConformanceReport) {
			ev := r.Tests[testIndex(t, r, "L4AuthzDenyByPrincipal")].Evidence
			ev[0], ev[1] = ev[1], ev[0]
		}, []string{"evidence[1]: not sorted"}},
		{"supported features wrong", func(t *testing.T, r *v1.ConformanceReport) {
			r.ProfileReports[0].Extended.SupportedFeatures = []string{"ProbeSNAT"}
		}, []string{"supportedFeatures is [ProbeSNAT] but the tests say [DualStack ProbeSNAT]"}},
		{"extended missing", func(t *testing.T, r *v1.ConformanceReport) {
			r.ProfileReports[0].Extended = nil
		}, []string{"extended is missing but 3 tests are extended"}},
		{"profile without tests", func(t *testing.T, r *v1.ConformanceReport) {
			r.ProfileReports = append(r.ProfileReports, v1.ProfileReport{Name: "HBONE", Summary: "x", Core: v1.Status{Result: v1.Partial}})
		}, []string{"profiles[2] (HBONE): no test in tests belongs to this profile"}},
		{"tests of an unreported profile", func(t *testing.T, r *v1.ConformanceReport) {
			r.ProfileReports = r.ProfileReports[:1]
		}, []string{"tests name profile AMBIENT-L7 but profiles has no entry"}},
		{"provisional list wrong", func(t *testing.T, r *v1.ConformanceReport) {
			r.SucceededProvisionalTests = nil
		}, []string{"succeededProvisionalTests is [] but the tests say [L7HeaderRewrite]"}},
		{"missing implementation fields", func(t *testing.T, r *v1.ConformanceReport) {
			r.Implementation = v1.Implementation{}
		}, []string{"organization cannot be empty", "project cannot be empty", "url cannot be empty", "version cannot be empty", "contact cannot be empty"}},
		{"implementation url not http", func(t *testing.T, r *v1.ConformanceReport) {
			r.URL = "ftp://example.com"
		}, []string{"must be an absolute http(s) URL"}},
		{"wrong apiVersion and kind", func(t *testing.T, r *v1.ConformanceReport) {
			r.APIVersion, r.Kind = v1.GatewayAPIGroupVersion, "Report"
		}, []string{`apiVersion is "gateway.networking.k8s.io/v1"`, `kind is "Report"`}},
		{"bad date", func(t *testing.T, r *v1.ConformanceReport) { r.Date = "yesterday" }, []string{"not RFC 3339"}},
		{"half the Gateway API header", func(t *testing.T, r *v1.ConformanceReport) { r.GatewayAPIVersion = "v1.6.3" }, []string{"set together"}},
		{"provenance gaps", func(t *testing.T, r *v1.ConformanceReport) {
			r.Provenance.Kernel, r.Provenance.Commit, r.Provenance.ScenarioHash = "", "main", "md5:x"
		}, []string{"provenance.kernel cannot be empty", `commit "main"`, `scenarioHash "md5:x"`}},
		{"unsorted images", func(t *testing.T, r *v1.ConformanceReport) {
			im := r.Provenance.Images
			im[0], im[1] = im[1], im[0]
		}, []string{"provenance.images[1]", "not sorted"}},
		{"absolute evidence path", func(t *testing.T, r *v1.ConformanceReport) {
			r.Tests[testIndex(t, r, "L4AuthzDenyByPrincipal")].Evidence[1].Path = "/tmp/run-123/node-1.pcap"
		}, []string{"is absolute"}},
		{"evidence escaping the report dir", func(t *testing.T, r *v1.ConformanceReport) {
			r.Tests[testIndex(t, r, "L4AuthzDenyByPrincipal")].Evidence[1].Path = "../secrets"
		}, []string{"stay inside the report's directory"}},
		{"bad evidence digest and kind", func(t *testing.T, r *v1.ConformanceReport) {
			ev := &r.Tests[testIndex(t, r, "L4AuthzDenyByPrincipal")].Evidence[1]
			ev.Digest, ev.Kind = "sha256:XYZ", "video"
		}, []string{`digest "sha256:XYZ"`, `unknown evidence kind "video"`}},
		{"negative retries", func(t *testing.T, r *v1.ConformanceReport) {
			r.Tests[0].Retries = -1
		}, []string{"retries cannot be negative"}},
		{"unknown proxy", func(t *testing.T, r *v1.ConformanceReport) {
			r.Tests[0].EnforcedBy = "istiod"
		}, []string{`unknown proxy "istiod"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validReport(t)
			tt.mutate(t, r)
			err := r.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q, got none", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestImplementationValidateEachField(t *testing.T) {
	for _, tt := range []struct {
		field  string
		mutate func(*v1.Implementation)
	}{
		{"organization", func(i *v1.Implementation) { i.Organization = "" }},
		{"project", func(i *v1.Implementation) { i.Project = " " }},
		{"url", func(i *v1.Implementation) { i.URL = "" }},
		{"version", func(i *v1.Implementation) { i.Version = "" }},
		{"contact", func(i *v1.Implementation) { i.Contact = []string{} }},
		{"contact[0]", func(i *v1.Implementation) { i.Contact = []string{""} }},
		{"url", func(i *v1.Implementation) { i.URL = "https://" }},
	} {
		impl := fixture.Implementation()
		tt.mutate(&impl)
		if err := impl.Validate(); err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: err = %v", tt.field, err)
		}
	}
	good := fixture.Implementation()
	if err := good.Validate(); err != nil {
		t.Error(err)
	}
}
