// Package archtest enforces the import-direction rules of architecture.md §2.1
// and the file-size budget, from the real dependency graph (`go list -deps`).
package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/ambientlab/ambientlab"

type pkgInfo struct {
	ImportPath string
	Deps       []string
	Imports    []string
	GoFiles    []string
	Dir        string
}

func listPackages(t *testing.T) []pkgInfo {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps=false", "-json", module+"/...")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkgInfo
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkgInfo
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list returned no packages")
	}
	return pkgs
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func under(path, prefix string) bool {
	full := module + "/" + prefix
	return path == full || strings.HasPrefix(path, full+"/")
}

// rule says which module-internal trees a tree must not depend on (transitively).
type rule struct {
	from      string
	forbidden []string
}

var rules = []rule{
	{from: "dataplane", forbidden: []string{"sim", "scenarios", "conformance", "perf", "reports", "cmd"}},
	{from: "scenarios", forbidden: []string{"dataplane", "sim", "conformance", "perf", "reports", "cmd"}},
	{from: "sim", forbidden: []string{"conformance", "perf", "cmd"}},
	{from: "perf", forbidden: []string{"conformance", "cmd"}},
	{from: "reports", forbidden: []string{"dataplane", "sim", "scenarios", "conformance", "perf", "cmd"}},
}

func TestImportDirection(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, r := range rules {
			if !under(p.ImportPath, r.from) {
				continue
			}
			for _, dep := range p.Deps {
				for _, f := range r.forbidden {
					if under(dep, f) {
						t.Errorf("%s depends on %s: %s/ must not import %s/ (architecture.md §2.1)", p.ImportPath, dep, r.from, f)
					}
				}
			}
		}
	}
}

// TestConformanceIsBlackBox: conformance may use dataplane/hbone and dataplane/identity
// only as wire-probe client libraries, never ztunnel/waypoint/policy internals.
func TestConformanceIsBlackBox(t *testing.T) {
	allowed := map[string]bool{module + "/dataplane/hbone": true, module + "/dataplane/identity": true}
	for _, p := range listPackages(t) {
		if !under(p.ImportPath, "conformance") {
			continue
		}
		for _, imp := range p.Imports {
			if under(imp, "dataplane") && !allowed[imp] {
				t.Errorf("%s imports %s: conformance is black-box", p.ImportPath, imp)
			}
		}
	}
}

// TestIstioModuleOnlyInTests keeps the heavy istio.io/istio module out of non-test
// builds, except its generated wire-type packages (workload API, ZDS), which are
// plain protobufs.
func TestIstioModuleOnlyInTests(t *testing.T) {
	wireTypes := []string{"istio.io/istio/pkg/workloadapi", "istio.io/istio/pkg/zdsapi"}
	for _, p := range listPackages(t) {
		for _, dep := range p.Deps {
			if !strings.HasPrefix(dep, "istio.io/istio/") {
				continue
			}
			ok := false
			for _, w := range wireTypes {
				if dep == w || strings.HasPrefix(dep, w+"/") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s (non-test) depends on %s; istio.io/istio is allowed only in _test.go files or as wire types", p.ImportPath, dep)
			}
		}
	}
}

// TestWorkloadBinaryStaysSmall: the per-pod workload binary runs a thousand times
// per cluster, so it must not pull in Kubernetes, Istio or CLI frameworks.
func TestWorkloadBinaryStaysSmall(t *testing.T) {
	heavy := []string{"k8s.io/", "istio.io/", "sigs.k8s.io/", "github.com/spf13/cobra", "google.golang.org/grpc"}
	for _, p := range listPackages(t) {
		if p.ImportPath != module+"/cmd/ambientlab-workload" {
			continue
		}
		for _, dep := range p.Deps {
			for _, h := range heavy {
				if strings.HasPrefix(dep, h) {
					t.Errorf("cmd/ambientlab-workload depends on %s", dep)
				}
			}
		}
	}
}

// TestFileSizeBudget: ~400 lines is the target; 800 lines (tests excluded) fails.
func TestFileSizeBudget(t *testing.T) {
	const hardMax = 800
	for _, p := range listPackages(t) {
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			n, err := countLines(path)
			if err != nil {
				t.Fatal(err)
			}
			if n > hardMax {
				t.Errorf("%s has %d lines (budget 400, hard max %d): split it by responsibility", path, n, hardMax)
			}
		}
	}
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for s.Scan() {
		n++
	}
	return n, s.Err()
}

// TestNoDirectNetnsSet: entering namespaces goes through sim/netns (ns.Do on a
// locked thread); a stray netns.Set elsewhere leaks a thread into the wrong ns.
func TestNoDirectNetnsSet(t *testing.T) {
	for _, p := range listPackages(t) {
		if under(p.ImportPath, "sim/netns") || under(p.ImportPath, "sim/sandbox") {
			continue
		}
		for _, f := range p.GoFiles {
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("netns.Set(")) {
				t.Errorf("%s/%s calls netns.Set; use sim/netns (ns.Do) instead", p.ImportPath, f)
			}
		}
	}
}
