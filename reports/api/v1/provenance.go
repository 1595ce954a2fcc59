package v1

import "cmp"

// Provenance says what produced a report, so a reviewer can reproduce it
// (network-policy-api PR #398, gateway-api PR #4986).
type Provenance struct {
	// HarnessVersion is ambientlab's version (git describe or module version).
	HarnessVersion string `json:"harnessVersion"`
	// Commit is ambientlab's VCS revision, with "-dirty" for a modified tree.
	Commit string `json:"commit,omitempty"`
	// GoVersion is the toolchain that built the harness (runtime.Version()).
	GoVersion string `json:"goVersion"`
	// Kernel is the host kernel release (uname -r).
	Kernel string `json:"kernel"`
	// Backend is where the data plane ran.
	Backend Backend `json:"backend"`
	// DataPlane names the data plane under test ("ambientlab-reference", "istio/ztunnel 1.31.1").
	DataPlane string `json:"dataPlane"`
	// ScenarioHash is "sha256:<hex>" over the scenarios the run used.
	ScenarioHash string `json:"scenarioHash,omitempty"`
	// Images are the implementation's image digests (kind backend). Sorted by name.
	Images []Image `json:"images,omitempty"`
	// CIRunURL links the CI run that produced the report.
	CIRunURL string `json:"ciRunURL,omitempty"`
}

// Image is one container image of the implementation under test.
type Image struct {
	// Name is the image reference as configured ("docker.io/istio/ztunnel:1.31.1").
	Name string `json:"name"`
	// Digest is "sha256:<64 hex>".
	Digest string `json:"digest"`
}

// CompareImages orders images by name, then digest.
func CompareImages(a, b Image) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Digest, b.Digest))
}
