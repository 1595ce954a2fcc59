package manifest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem found in a manifest, located as precisely as the
// decoder allows: Line points at the offending field when it can be found in
// the YAML, otherwise at the first line of the document.
type Error struct {
	File string
	Line int // 1-based; 0 when unknown
	Doc  int // 1-based document index within File; 0 when unknown
	// Kind, Namespace and Name identify the object, when it could be decoded
	// far enough to know them.
	Kind, Namespace, Name string
	// Field is a path such as "spec.template.spec.serviceAccountName" or
	// `metadata.annotations["ambientlab.io/workload"]`; empty for whole-object
	// or syntax problems.
	Field string
	Msg   string
}

// Error renders "file:line: Kind ns/name: field: msg", omitting unknown parts.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if obj := objectLabel(e.Kind, e.Namespace, e.Name); obj != "" {
		b.WriteString(obj + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func objectLabel(kind, ns, name string) string {
	switch {
	case kind == "":
		return ""
	case name == "":
		return kind
	case ns == "":
		return kind + " " + name
	default:
		return kind + " " + ns + "/" + name
	}
}

// ErrorList is every problem found in one load, sorted by file, line and
// field, so that users fix them all in one pass.
type ErrorList []*Error

// Error lists every problem, one per line.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	lines := make([]string, 0, len(l)+1)
	lines = append(lines, fmt.Sprintf("%d problems:", len(l)))
	for _, e := range l {
		lines = append(lines, "  "+e.Error())
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual errors to errors.Is/As.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Sort orders the list by file, line, document, field and message, and drops
// exact duplicates.
func (l ErrorList) Sort() ErrorList {
	sort.SliceStable(l, func(i, j int) bool { return lessLoc(l[i].loc(), l[j].loc()) })
	out := l[:0]
	for i, e := range l {
		if i > 0 && *e == *l[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// errOrNil returns nil for an empty list so callers can `return list.errOrNil()`.
func (l ErrorList) errOrNil() error {
	if len(l) == 0 {
		return nil
	}
	return l.Sort()
}

type location struct {
	file       string
	line, doc  int
	field, msg string
}

func (e *Error) loc() location { return location{e.File, e.Line, e.Doc, e.Field, e.Msg} }

func lessLoc(a, b location) bool {
	if a.file != b.file {
		return a.file < b.file
	}
	if a.line != b.line {
		return a.line < b.line
	}
	if a.doc != b.doc {
		return a.doc < b.doc
	}
	if a.field != b.field {
		return a.field < b.field
	}
	return a.msg < b.msg
}

// WarningCode classifies a Warning so callers can filter or escalate by code
// rather than by message text.
type WarningCode int

const (
	// WarnDeprecatedAPIVersion: an older apiVersion was accepted (e.g. security.istio.io/v1beta1).
	WarnDeprecatedAPIVersion WarningCode = iota + 1
	// WarnNotEnforced: an Istio or Gateway API kind was decoded and validated but
	// is not yet enforced by the simulator.
	WarnNotEnforced
	// WarnEmptySelector: a Service's selector selects no pod (Kubernetes allows
	// it; a caller that needs the Service escalates it, see Set.RequireEndpoints).
	WarnEmptySelector
	// WarnNoSelector: a Service has no selector, so it never gets endpoints here.
	WarnNoSelector
	// WarnIgnoredField: a field that the simulator accepts but does not model.
	WarnIgnoredField
	// WarnLegacyForm: an older form (e.g. a waypoint made by `istioctl x
	// waypoint apply --service-account`) was accepted and translated; the
	// message names the current form.
	WarnLegacyForm
)

var warningCodeNames = map[WarningCode]string{
	WarnDeprecatedAPIVersion: "deprecated-api-version",
	WarnNotEnforced:          "not-yet-enforced",
	WarnEmptySelector:        "empty-selector",
	WarnNoSelector:           "no-selector",
	WarnIgnoredField:         "ignored-field",
	WarnLegacyForm:           "legacy-form",
}

func (c WarningCode) String() string {
	if s, ok := warningCodeNames[c]; ok {
		return s
	}
	return "WarningCode(" + strconv.Itoa(int(c)) + ")"
}

// Warning is a non-fatal finding, returned as data; the library never prints.
type Warning struct {
	Code WarningCode
	// Err carries the location and message in the same shape as errors.
	Err Error
}

func (w Warning) String() string { return "warning: " + w.Err.Error() + " [" + w.Code.String() + "]" }

func sortWarnings(ws []Warning) {
	sort.SliceStable(ws, func(i, j int) bool { return lessLoc(ws[i].Err.loc(), ws[j].Err.loc()) })
}
