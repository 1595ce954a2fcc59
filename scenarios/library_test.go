package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLibraryValidates loads every library file strictly, from disk and from
// the embedded copy, so a typo in any scenario fails `go test`.
func TestLibraryValidates(t *testing.T) {
	var files []string
	filepath.WalkDir("library", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && isYAML(p) {
			files = append(files, p)
		}
		return err
	})
	if len(files) < 30 {
		t.Fatalf("library has %d scenario files, want at least 30", len(files))
	}
	for _, f := range files {
		if _, err := LoadFile(f); err != nil {
			t.Errorf("%v", err)
		}
	}
	list, err := LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(files) {
		t.Errorf("embedded library has %d scenarios, disk has %d", len(list), len(files))
	}
	dirs := map[string]int{}
	for _, r := range list {
		dirs[strings.Split(r.File, "/")[1]]++
		if len(r.Features) == 0 || r.Profile == "" || len(r.Steps) == 0 {
			t.Errorf("%s: profile, features and steps are required", r.File)
		}
	}
	for _, d := range []string{"simulator", "l4", "waypoint", "sidecar-interop", "failure"} {
		if dirs[d] == 0 {
			t.Errorf("library/%s has no scenarios", d)
		}
	}
}

// TestLibraryMeshScenariosNeedMeshCapabilities: every scenario outside the
// simulator base needs a capability the simulator lacks, so none of them can
// be reported as passed before the data plane exists — and every simulator
// scenario needs only what the simulator has.
func TestLibraryMeshScenariosNeedMeshCapabilities(t *testing.T) {
	list, err := LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	sim := map[Capability]bool{CapServices: true, CapDNS: true}
	for _, r := range list {
		var mesh []Capability
		for _, c := range r.Requires {
			if !sim[c] {
				mesh = append(mesh, c)
			}
		}
		isSim := r.Profile == ProfileSmoke || r.Name == "no-endpoints" || r.Name == "backend-deleted"
		switch {
		case isSim && len(mesh) > 0:
			t.Errorf("%s: simulator scenario needs %v", r.Name, mesh)
		case !isSim && len(mesh) == 0:
			t.Errorf("%s: mesh scenario needs no mesh capability; it would pass on a backend that enforces nothing", r.Name)
		}
	}
}
