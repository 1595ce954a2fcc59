// Package render writes reports for machines and people: YAML and JSON (the
// typed report itself), JUnit XML for CI test tabs, a Markdown summary for a
// CI job page, and a single self-contained HTML file that loads nothing from
// the network.
//
// Every renderer validates first and refuses an invalid report, so nothing
// that breaks the report rules (a skip without a reason, counts that do not
// add up) is ever published. Output is deterministic: the same report renders
// to the same bytes. This package does not build reports (reports/build) and
// imports nothing from the module but reports/api.
package render

import "io"

// Document is a report that can check itself: *v1.ConformanceReport or
// *v1.GatewayAPIConformanceReport.
type Document interface {
	Validate() error
}

// errWriter keeps the first write error, so renderers can write freely and
// check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
