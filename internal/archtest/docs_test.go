package archtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/sim/topology"
)

// TestDocsImageTable keeps docs/manifests.md true to the code's image table.
func TestDocsImageTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "manifests.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := topology.ImageTableMarkdown(); !strings.Contains(string(b), want) {
		t.Errorf("docs/manifests.md is out of date; paste in:\n%s", want)
	}
}

// TestCIRunsMakeTest: CI must run the README's test command.
func TestCIRunsMakeTest(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "make test") {
		t.Error(".ci/run does not run `make test`")
	}
}
