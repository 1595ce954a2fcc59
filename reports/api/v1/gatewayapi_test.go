package v1

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// upstreamIstioReport returns Istio's published report without our header.
func upstreamIstioReport(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/istio-1.30.0-default-report.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var body []string
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasPrefix(line, "#") {
			body = append(body, line)
		}
	}
	return []byte(strings.Join(body, ""))
}

// TestGatewayAPIRoundTripIsByteIdentical proves the shared types carry
// upstream's keys exactly: Istio's published report decodes strictly (no
// unknown field) and re-encodes to the same bytes.
func TestGatewayAPIRoundTripIsByteIdentical(t *testing.T) {
	want := upstreamIstioReport(t)
	r, err := DecodeGatewayAPI(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("round trip differs:\n--- got\n%s\n--- want\n%s", got, want)
	}
	mesh := r.ProfileReports[3]
	if mesh.Name != "MESH-HTTP" || mesh.Core.Passed != 7 || mesh.Extended.Passed != 7 ||
		len(mesh.Extended.UnsupportedFeatures) != 1 || mesh.Extended.UnsupportedFeatures[0] != "MeshClusterIPMatching" {
		t.Errorf("MESH-HTTP decoded wrongly: %+v", mesh)
	}
}

func TestDecodeGatewayAPIRejectsUnknownFields(t *testing.T) {
	in := append(upstreamIstioReport(t), []byte("bogus: 1\n")...)
	if _, err := DecodeGatewayAPI(in); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("want an unknown-field error, got %v", err)
	}
}
