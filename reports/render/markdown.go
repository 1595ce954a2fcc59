package render

import (
	"fmt"
	"io"
	"strings"

	v1 "github.com/ambientlab/ambientlab/reports/api/v1"
)

// Markdown writes a summary for a CI job page (a GitHub step summary, a
// GitLab or Prow job page): the headline verdict, a table per profile,
// failed tests with their messages and evidence, skipped tests with their
// reasons, and provenance. GitHub-flavoured tables; no HTML beyond <br>.
func Markdown(w io.Writer, r *v1.ConformanceReport) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("render Markdown: %w", err)
	}
	ew := &errWriter{w: w}
	p := func(format string, a ...any) { fmt.Fprintf(ew, format, a...) }

	tot := r.Totals()
	p("# %s ambientlab conformance: %s\n\n", resultIcon(r.Verdict()), strings.ToUpper(string(r.Verdict())))
	p("**%s** %s by %s on `%s` — %d tests: %d passed, %d failed, %d skipped. Generated %s.\n\n",
		inline(r.Project), inline(r.Version), inline(r.Organization), r.Provenance.Backend,
		tot.Total(), tot.Passed, tot.Failed, tot.Skipped, r.Date)
	if len(r.ProfileReports) == 0 {
		p("No tests ran, so nothing was verified.\n\n")
	}
	if len(r.ProfileReports) > 0 {
		p("| Profile | Core | Extended | Summary |\n|---|---|---|---|\n")
		for _, pr := range r.ProfileReports {
			ext := "—"
			if pr.Extended != nil {
				ext = levelCell(pr.Extended.Status)
			}
			p("| %s | %s | %s | %s |\n", cell(pr.Name), levelCell(pr.Core), ext, cell(pr.Summary))
		}
		p("\n")
	}
	markdownNegative(p, r.Tests)
	for _, pr := range r.ProfileReports {
		markdownProfile(p, pr, r.Tests)
	}
	markdownFailures(p, r.Tests)
	markdownSkips(p, r.Tests)
	markdownProvenance(p, r)
	return ew.err
}

func markdownProfile(p func(string, ...any), pr v1.ProfileReport, tests []v1.TestResult) {
	p("## %s\n\n", inline(pr.Name))
	p("| Test | Level | Result | Duration | Retries | Consistent after | Enforced by |\n")
	p("|---|---|---|--:|--:|--:|---|\n")
	for _, t := range tests {
		if t.Profile != pr.Name {
			continue
		}
		level := "extended"
		if t.Core {
			level = "core"
		}
		ttc := "—"
		if t.TimeToConsistency > 0 {
			ttc = t.TimeToConsistency.String()
		}
		enforced := "—"
		if t.EnforcedBy != "" {
			enforced = t.EnforcedBy.String()
		}
		p("| %s | %s | %s %s | %s | %d | %s | %s |\n", cell(t.Name), level, outcomeIcon(t.Result), t.Result, t.Duration, t.Retries, ttc, enforced)
	}
	p("\n")
	if pr.Extended != nil && len(pr.Extended.UnsupportedFeatures) > 0 {
		p("Unsupported extended features: %s.\n\n", inline(strings.Join(pr.Extended.UnsupportedFeatures, ", ")))
	}
}

func markdownFailures(p func(string, ...any), tests []v1.TestResult) {
	header := false
	for _, t := range tests {
		if t.Result != v1.Failed {
			continue
		}
		if !header {
			p("## Failed tests\n\n")
			header = true
		}
		p("### %s / %s\n\n", inline(t.Profile), inline(t.Name))
		if !t.Reason.IsZero() {
			p("Known failure: `%s`.\n\n", t.Reason)
		}
		fence := codeFence(t.Message)
		p("%stext\n%s\n%s\n\n", fence, t.Message, fence)
		for _, e := range t.Evidence {
			p("- %s: %s\n", e.Kind, inline(evidenceLine(e)))
		}
		if len(t.Evidence) > 0 {
			p("\n")
		}
	}
}

func markdownSkips(p func(string, ...any), tests []v1.TestResult) {
	header := false
	for _, t := range tests {
		if !t.Result.IsSkip() {
			continue
		}
		if !header {
			p("## Skipped tests\n\nA skip is never a pass: each one below keeps its profile from succeeding.\n\n")
			p("| Test | Profile | Result | Reason | Message |\n|---|---|---|---|---|\n")
			header = true
		}
		msg := "—"
		if t.Message != "" {
			msg = cell(t.Message)
		}
		p("| %s | %s | %s | `%s` | %s |\n", cell(t.Name), cell(t.Profile), t.Result, t.Reason, msg)
	}
	if header {
		p("\n")
	}
}

func markdownProvenance(p func(string, ...any), r *v1.ConformanceReport) {
	pv := r.Provenance
	p("## Provenance\n\n| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			p("| %s | %s |\n", k, cell(v))
		}
	}
	row("Implementation", fmt.Sprintf("%s/%s %s (%s)", r.Organization, r.Project, r.Version, r.URL))
	row("Contact", strings.Join(r.Contact, ", "))
	row("Data plane", pv.DataPlane)
	row("Backend", pv.Backend.String())
	row("Harness", strings.TrimSpace(pv.HarnessVersion+" "+pv.Commit))
	row("Go", pv.GoVersion)
	row("Kernel", pv.Kernel)
	row("Scenario hash", pv.ScenarioHash)
	for _, img := range pv.Images {
		row("Image", img.Name+"@"+img.Digest)
	}
	row("Gateway API", strings.TrimSpace(r.GatewayAPIVersion+" "+r.GatewayAPIChannel))
	row("CI run", pv.CIRunURL)
}

func levelCell(s v1.Status) string {
	return fmt.Sprintf("%s %s (%d passed, %d failed, %d skipped)", resultIcon(s.Result), s.Result, s.Passed, s.Failed, s.Skipped)
}

func resultIcon(r v1.Result) string {
	switch r {
	case v1.Success:
		return "✅"
	case v1.Partial:
		return "⚠️"
	}
	return "❌"
}

func outcomeIcon(o v1.Outcome) string {
	switch {
	case o == v1.Succeeded:
		return "✅"
	case o.IsSkip():
		return "⏭️"
	}
	return "❌"
}

// inline escapes the characters Markdown would read as markup or HTML.
var inlineEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "&", "&amp;", "|", `\|`, "#", `\#`,
)

func inline(s string) string { return inlineEscaper.Replace(s) }

// cell is inline text that must stay on one table row.
func cell(s string) string {
	return strings.ReplaceAll(inline(strings.TrimSpace(s)), "\n", "<br>")
}

// codeFence returns a backtick fence longer than any backtick run in s.
func codeFence(s string) string {
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// markdownNegative is the negative-suite headline: attacks and positive twins
// run, bypasses (attacks not refused) and false denies (twins not served).
func markdownNegative(p func(string, ...any), tests []v1.TestResult) {
	n := v1.TallyNegative(tests)
	if !n.Any() {
		return
	}
	p("**Negative suite:** %d attacks, %d positive twins — **%d bypasses, %d false denies**", n.Attacks, n.Twins, n.Bypasses, n.FalseDenies)
	if n.Skipped > 0 {
		p(", %d skipped", n.Skipped)
	}
	if n.Documented > 0 {
		p("; %d attacks are served by documented design of the configuration under test (path normalization mode)", n.Documented)
	}
	p(".\n\n")
}
