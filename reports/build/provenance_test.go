package build

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
)

func TestVersionFromBuildInfo(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name                string
		info                *debug.BuildInfo
		wantVersion, wantVC string
	}{
		{"no build info", nil, "dev", ""},
		{"local build without VCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev", ""},
		{"module version", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, "v0.4.0", ""},
		{"clean tree", &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}}}, "dev", rev},
		{"dirty tree", &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: rev}}}, "dev", rev + "-dirty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, c := VersionFromBuildInfo(tt.info)
			if v != tt.wantVersion || c != tt.wantVC {
				t.Errorf("got %q, %q; want %q, %q", v, c, tt.wantVersion, tt.wantVC)
			}
		})
	}
}

func TestSystemProvenance(t *testing.T) {
	got, err := SystemProvenance(v1.Provenance{Backend: v1.BackendNetns, DataPlane: "ambientlab-reference"})
	if err != nil {
		t.Fatal(err)
	}
	if got.GoVersion != runtime.Version() || got.Kernel == "" || got.HarnessVersion == "" {
		t.Errorf("not filled from the system: %+v", got)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("system provenance is invalid: %v", err)
	}
	kept, err := SystemProvenance(v1.Provenance{HarnessVersion: "v9", GoVersion: "go1.99", Kernel: "k"})
	if err != nil || kept.HarnessVersion != "v9" || kept.GoVersion != "go1.99" || kept.Kernel != "k" {
		t.Errorf("caller's values must win: %+v, %v", kept, err)
	}
}

func TestScenarioHash(t *testing.T) {
	a := ScenarioHash(map[string][]byte{"l4.yaml": []byte("x: 1"), "waypoint.yaml": []byte("y: 2")})
	b := ScenarioHash(map[string][]byte{"waypoint.yaml": []byte("y: 2"), "l4.yaml": []byte("x: 1")})
	if a != b || !strings.HasPrefix(a, "sha256:") || len(a) != len("sha256:")+64 {
		t.Errorf("hash must be a map-order-independent sha256: %s %s", a, b)
	}
	// Length prefixes keep a name/content boundary shift from colliding.
	if ScenarioHash(map[string][]byte{"ab": []byte("c")}) == ScenarioHash(map[string][]byte{"a": []byte("bc")}) {
		t.Error("moving bytes between name and content must change the hash")
	}
	if ScenarioHash(nil) == a {
		t.Error("empty input must hash differently")
	}
	if (&v1.Provenance{HarnessVersion: "v", GoVersion: "g", Kernel: "k", Backend: v1.BackendKind, DataPlane: "d", ScenarioHash: a}).Validate() != nil {
		t.Error("ScenarioHash output must pass Provenance.Validate")
	}
}

func TestDigest(t *testing.T) {
	if got := Digest([]byte("")); got != "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("Digest(\"\") = %s", got)
	}
}

func TestCIRunURL(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"outside CI", nil, ""},
		{"GitHub Actions", map[string]string{"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "ambientlab/ambientlab", "GITHUB_RUN_ID": "42"},
			"https://github.com/ambientlab/ambientlab/actions/runs/42"},
		{"GitLab CI", map[string]string{"CI_JOB_URL": "https://gitlab.example/g/p/-/jobs/7"}, "https://gitlab.example/g/p/-/jobs/7"},
		{"partial GitHub env", map[string]string{"GITHUB_RUN_ID": "42"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CIRunURL(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
