package render

import (
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
)

//go:embed report.html.tmpl
var htmlTemplateText string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"upper":        strings.ToUpper,
	"resultClass":  func(r v1.Result) string { return "r-" + string(r) },
	"outcomeClass": outcomeClass,
}).Parse(htmlTemplateText))

// HTML writes one self-contained, offline HTML page (conventions.md §7): a
// pass/fail matrix of tests × implementations as a coloured table, then each
// report's profiles, failures, skips and provenance. CSS is inline and the
// page loads nothing: no scripts, stylesheets, fonts or images. Evidence
// paths become relative links, so keep the page next to its artefacts.
// Pass several reports (one per implementation or run) to compare them.
func HTML(w io.Writer, reports ...*v1.ConformanceReport) error {
	if len(reports) == 0 {
		return errors.New("render HTML: no report")
	}
	for n, r := range reports {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("render HTML: report %d: %w", n, err)
		}
	}
	return htmlTemplate.Execute(w, newHTMLPage(reports))
}

type htmlPage struct {
	Verdict v1.Result
	Columns []string
	Rows    []htmlRow
	Reports []htmlReport
}

type htmlRow struct {
	Profile, Name, Level string
	Cells                []htmlCell
}

type htmlCell struct {
	Class, Text, Title string
}

type htmlReport struct {
	Label string
	*v1.ConformanceReport
	Failed, Skipped []v1.TestResult
}

type rowKey struct{ profile, name string }

func newHTMLPage(reports []*v1.ConformanceReport) htmlPage {
	page := htmlPage{Verdict: v1.Success}
	cells := map[rowKey][]htmlCell{}
	levels := map[rowKey]string{}
	for col, r := range reports {
		label := fmt.Sprintf("%s %s · %s on %s", r.Project, r.Version, r.Provenance.DataPlane, r.Provenance.Backend)
		page.Columns = append(page.Columns, label)
		page.Verdict = page.Verdict.Worse(r.Verdict())
		hr := htmlReport{Label: label, ConformanceReport: r}
		for _, t := range r.Tests {
			k := rowKey{t.Profile, t.Name}
			if cells[k] == nil {
				cells[k] = make([]htmlCell, len(reports))
				for n := range cells[k] {
					cells[k][n] = htmlCell{Class: "o-none", Text: "—", Title: "not run"}
				}
			}
			title := t.Reason.String()
			if t.Message != "" {
				title = strings.TrimPrefix(title+": "+t.Message, ": ")
			}
			cells[k][col] = htmlCell{Class: outcomeClass(t.Result), Text: t.Result.String(), Title: title}
			levels[k] = "extended"
			if t.Core {
				levels[k] = "core"
			}
			switch {
			case t.Result.IsSkip():
				hr.Skipped = append(hr.Skipped, t)
			case t.Result != v1.Succeeded:
				hr.Failed = append(hr.Failed, t)
			}
		}
		page.Reports = append(page.Reports, hr)
	}
	keys := make([]rowKey, 0, len(cells))
	for k := range cells {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b rowKey) int { return cmp.Or(cmp.Compare(a.profile, b.profile), cmp.Compare(a.name, b.name)) })
	for _, k := range keys {
		page.Rows = append(page.Rows, htmlRow{Profile: k.profile, Name: k.name, Level: levels[k], Cells: cells[k]})
	}
	return page
}

func outcomeClass(o v1.Outcome) string {
	switch {
	case o == v1.Succeeded:
		return "o-pass"
	case o.IsSkip():
		return "o-skip"
	}
	return "o-fail"
}
