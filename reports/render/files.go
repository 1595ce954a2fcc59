package render

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
)

// The files WriteDir writes; `make conformance` puts them in _output/conformance/.
const (
	YAMLFile     = "report.yaml"
	JUnitFile    = "junit.xml"
	MarkdownFile = "summary.md"
	HTMLFile     = "report.html"
)

// WriteDir renders r into dir as report.yaml, junit.xml, summary.md and
// report.html, creating dir if needed. Everything is rendered before anything
// is written, and each file is written to a temporary name and renamed, so a
// failure never leaves a half-written report next to complete ones.
func WriteDir(dir string, r *v1.ConformanceReport) error {
	renderers := []struct {
		name   string
		render func(io.Writer) error
	}{
		{YAMLFile, func(w io.Writer) error { return YAML(w, r) }},
		{JUnitFile, func(w io.Writer) error { return JUnit(w, r) }},
		{MarkdownFile, func(w io.Writer) error { return Markdown(w, r) }},
		{HTMLFile, func(w io.Writer) error { return HTML(w, r) }},
	}
	out := make([]bytes.Buffer, len(renderers))
	for n, rd := range renderers {
		if err := rd.render(&out[n]); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write reports: %w", err)
	}
	for n, rd := range renderers {
		if err := writeFileAtomic(filepath.Join(dir, rd.name), out[n].Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
