package v1

// ConformanceReport is ambientlab's report (apiVersion ambientlab.io/v1alpha1):
// upstream's top-level fields plus provenance and per-test results.
type ConformanceReport struct {
	APIVersion     string `json:"apiVersion"`
	Kind           string `json:"kind"`
	Implementation `json:"implementation"`
	// Date is when the report was generated, RFC 3339 in UTC.
	Date string `json:"date"`
	// GatewayAPIVersion and GatewayAPIChannel are set only when upstream
	// MESH profiles ran.
	GatewayAPIVersion string `json:"gatewayAPIVersion,omitempty"`
	// Mode is the operating mode the implementation ran in ("default").
	Mode              string `json:"mode"`
	GatewayAPIChannel string `json:"gatewayAPIChannel,omitempty"`
	// ProfileReports has one entry per profile that recorded a test, sorted by name.
	ProfileReports []ProfileReport `json:"profiles"`
	// SucceededProvisionalTests names passing provisional tests, sorted.
	SucceededProvisionalTests []string `json:"succeededProvisionalTests,omitempty"`

	// Provenance says what produced the report.
	Provenance Provenance `json:"provenance"`
	// Tests holds every result, sorted by profile then name. The profile
	// statistics are derived from it, and Validate checks they agree.
	Tests []TestResult `json:"tests"`
}

// Verdict is the report's headline: the worst result of any profile level.
// A report with no profiles is partial, because nothing was verified.
func (r *ConformanceReport) Verdict() Result {
	if len(r.ProfileReports) == 0 {
		return Partial
	}
	v := Success
	for _, p := range r.ProfileReports {
		v = v.Worse(p.Core.Result)
		if p.Extended != nil {
			v = v.Worse(p.Extended.Result)
		}
	}
	return v
}

// Totals sums the statistics of every profile level.
func (r *ConformanceReport) Totals() Statistics {
	var s Statistics
	for _, p := range r.ProfileReports {
		for _, st := range p.levels() {
			s.Passed += st.Passed
			s.Failed += st.Failed
			s.Skipped += st.Skipped
		}
	}
	return s
}

func (p ProfileReport) levels() []Status {
	if p.Extended == nil {
		return []Status{p.Core}
	}
	return []Status{p.Core, p.Extended.Status}
}

// GatewayAPIConformanceReport is upstream's ConformanceReport
// (gateway.networking.k8s.io/v1), emitted byte for byte for the upstream MESH
// profiles only. It shares every nested type with ConformanceReport.
type GatewayAPIConformanceReport struct {
	APIVersion                string `json:"apiVersion"`
	Kind                      string `json:"kind"`
	Implementation            `json:"implementation"`
	Date                      string          `json:"date"`
	GatewayAPIVersion         string          `json:"gatewayAPIVersion"`
	Mode                      string          `json:"mode"`
	GatewayAPIChannel         string          `json:"gatewayAPIChannel"`
	ProfileReports            []ProfileReport `json:"profiles"`
	SucceededProvisionalTests []string        `json:"succeededProvisionalTests,omitempty"`
}

// Implementation identifies who ran the tests against what.
type Implementation struct {
	// Organization maintains the implementation.
	Organization string `json:"organization"`
	// Project is the implementation's project or repository name.
	Project string `json:"project"`
	// URL is an http(s) page about the implementation.
	URL string `json:"url"`
	// Version is the implementation's version, semver when possible.
	Version string `json:"version"`
	// Contact lists maintainers: @user, @org/team, an email or a support URL.
	Contact []string `json:"contact"`
}
