package build

import (
	"os"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
	"github.com/ambientlab/ambientlab/reports/internal/fixture"
)

func istioReport(t *testing.T) *v1.GatewayAPIConformanceReport {
	t.Helper()
	b, err := os.ReadFile("../api/v1/testdata/istio-1.30.0-default-report.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := v1.DecodeGatewayAPI(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestGatewayAPIReproducesIstioMeshProfile: results shaped like Istio 1.30's
// MESH-HTTP run produce, field for field, the MESH-HTTP profile Istio
// published — NOT_SUPPORTED is not counted upstream but lists the feature.
func TestGatewayAPIReproducesIstioMeshProfile(t *testing.T) {
	istio := istioReport(t)
	results := append(fixture.Results(), fixture.MeshResults()...)
	r, err := Build(istio.Implementation, fixture.Provenance(), fixture.Date, results)
	if err != nil {
		t.Fatal(err)
	}
	got, err := GatewayAPI(r, istio.GatewayAPIVersion, istio.GatewayAPIChannel)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ProfileReports) != 1 {
		t.Fatalf("got profiles %v; only MESH-HTTP is upstream", got.ProfileReports)
	}
	want := istio.ProfileReports[3]
	if !reflect.DeepEqual(got.ProfileReports[0], want) {
		t.Errorf("MESH-HTTP:\n got %+v\nwant %+v", got.ProfileReports[0], want)
	}
	if got.APIVersion != v1.GatewayAPIGroupVersion || got.Date != r.Date || got.Implementation.URL != "https://istio.io/" ||
		got.GatewayAPIVersion != "v1.5.1" || got.GatewayAPIChannel != "experimental" || got.Mode != "default" {
		t.Errorf("header = %+v", got)
	}
	// Our own report is stricter: the unsupported test is a skip, so partial.
	for _, p := range r.ProfileReports {
		if p.Name == "MESH-HTTP" && (p.Extended.Result != v1.Partial || p.Extended.Skipped != 1) {
			t.Errorf("ambientlab's MESH-HTTP extended = %+v; want the not-supported test counted as a skip", p.Extended.Status)
		}
	}
}

func TestGatewayAPIUpstreamRules(t *testing.T) {
	results := []v1.TestResult{
		{Name: "MeshBasic", Profile: "MESH-HTTP", Core: true, Result: v1.Succeeded},
		{Name: "MeshFrontend", Profile: "MESH-HTTP", Core: true, Result: v1.Failed, Message: "503"},
		{Name: "MeshMirror", Profile: "MESH-HTTP", Features: []string{"Mirror"}, Result: v1.Skipped, Reason: v1.ReasonOf(v1.ReasonFiltered)},
		{Name: "MeshNamedRule", Profile: "MESH-HTTP", Features: []string{"NamedRule"}, Provisional: true, Result: v1.ProvisionalSkipped, Reason: v1.ReasonOf(v1.ReasonFiltered)},
		{Name: "MeshGRPC", Profile: "MESH-GRPC", Core: true, Provisional: true, Result: v1.Succeeded},
	}
	r, err := Build(fixture.Implementation(), fixture.Provenance(), fixture.Date, results)
	if err != nil {
		t.Fatal(err)
	}
	got, err := GatewayAPI(r, "v1.6.3", v1.ChannelStandard)
	if err != nil {
		t.Fatal(err)
	}
	grpc, http := got.ProfileReports[0], got.ProfileReports[1]
	if grpc.Summary != "Core tests succeeded." || grpc.Extended != nil {
		t.Errorf("MESH-GRPC = %+v", grpc)
	}
	if http.Core.Result != v1.Failure || http.Core.FailedTests[0] != "MeshFrontend" ||
		http.Extended.Statistics != (v1.Statistics{Skipped: 1}) || http.Extended.Result != v1.Partial ||
		http.Summary != "Core tests failed with 1 test failures. Extended tests partially succeeded with 1 test skips." {
		t.Errorf("MESH-HTTP = %+v / %+v", http, *http.Extended)
	}
	if !reflect.DeepEqual(got.SucceededProvisionalTests, []string{"MeshGRPC"}) {
		t.Errorf("succeededProvisionalTests = %v", got.SucceededProvisionalTests)
	}
}

func TestGatewayAPINeedsAnUpstreamProfile(t *testing.T) {
	_, err := GatewayAPI(buildFixture(t), "v1.6.3", v1.ChannelStandard)
	if err == nil || !strings.Contains(err.Error(), "nothing to submit upstream") {
		t.Fatalf("err = %v", err)
	}
}
