package redirect

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/ambientlab/ambientlab/internal/testutil/nstest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/ (never testdata/upstream/)")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// renderCases mirror istio cni/pkg/nftables/common_test.go GetCommonInPodTestCases;
// testdata/upstream/<name>.golden are copied verbatim from istio
// cni/pkg/nftables/testdata (IPv4 variants).
var renderCases = []struct {
	name string
	opts Options
}{
	{"default", Options{DNSCapture: true}},
	{"ingress", Options{BypassInbound: true}},
	{"virtual_interfaces", Options{VirtualInterfaces: []string{"fake1s0f0", "fake1s0f1"}}},
	{"ingress_and_virtual_interfaces", Options{BypassInbound: true, VirtualInterfaces: []string{"fake1s0f0", "fake1s0f1"}}},
	{"dns_pod_enabled_and_off_globally", Options{DNSCapture: true}},
	{"dns_pod_disabled_and_on_globally", Options{DNSCapture: false}},
}

// staleRawCleanup is what Render adds beyond istio's transaction when the raw
// table is not wanted (see Render): Apply deletes a raw table left by an
// earlier Apply with DNS capture. istio-cni applies once per pod and never
// emits these lines; they are the only accepted difference.
const staleRawCleanup = "add table inet istio-ambient-raw\ndelete table inet istio-ambient-raw\n"

func TestRenderMatchesUpstreamGolden(t *testing.T) {
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", "upstream", tc.name+".golden"))
			nstest.Must(t, err)
			got := Render(tc.opts)
			if !tc.opts.DNSCapture {
				trimmed, ok := strings.CutSuffix(got, staleRawCleanup)
				if !ok {
					t.Fatalf("without DNS capture Render must end by deleting the raw table:\n%s", got)
				}
				got = trimmed
			}
			if got != string(want) {
				t.Errorf("Render differs from istio's golden\n--- got ---\n%s--- want ---\n%s", got, want)
			}
		})
	}
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, filepath.Join("testdata", tc.name+".nft"), Render(tc.opts))
		})
	}
}

func TestRenderProbeSNATOverride(t *testing.T) {
	got := Render(Options{ProbeSNAT: netip.MustParseAddr("169.254.9.9")})
	if !strings.Contains(got, "ip saddr 169.254.9.9 counter accept") || strings.Contains(got, "169.254.7.127") {
		t.Errorf("probe SNAT override not applied:\n%s", got)
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		nstest.Must(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update to accept):\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}
