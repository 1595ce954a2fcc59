// Package pathnorm is the waypoint's request-path normalization: the options
// Istio exposes as meshConfig.pathNormalization (istio.io "Security best
// practices" › "Understand path normalization in authorization policy"), built
// from Envoy's normalize_path, merge_slashes and path_with_escaped_slashes_action.
//
// There is exactly one entry point, Normalize, and the waypoint calls it once per
// request: its output is both what authorization matches and what is forwarded,
// so the two can never disagree (ISTIO-SECURITY-2021-005, CVE-2021-31920;
// reliability W1).
package pathnorm

import "fmt"

// Mode is one of Istio's path normalization options. The zero value is invalid,
// so a forgotten setting fails closed instead of silently meaning NONE.
type Mode uint8

const (
	// ModeNone forwards the path as received (only validated). Istio warns that
	// it lets "/a/../admin" past a DENY on "/admin"; it exists for parity.
	ModeNone Mode = iota + 1
	// ModeBase is Istio's default: RFC 3986 §6 normalization (decoding of
	// percent-encoded unreserved characters, upper-case escapes, dot-segment
	// removal) plus backslash → slash, like Envoy's normalize_path.
	ModeBase
	// ModeMergeSlashes is ModeBase, then "//" → "/" (Envoy merge_slashes).
	ModeMergeSlashes
	// ModeDecodeAndMergeSlashes also decodes %2F and %5C (either case) to "/"
	// before the rest (Envoy path_with_escaped_slashes_action UNESCAPE_AND_FORWARD).
	// Istio recommends it when allowing by default with DENY rules.
	ModeDecodeAndMergeSlashes
)

var modeNames = [...]string{
	ModeNone: "NONE", ModeBase: "BASE", ModeMergeSlashes: "MERGE_SLASHES",
	ModeDecodeAndMergeSlashes: "DECODE_AND_MERGE_SLASHES",
}

// String is the meshConfig spelling.
func (m Mode) String() string {
	if m.Valid() {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Valid reports whether m is a defined mode.
func (m Mode) Valid() bool { return m >= ModeNone && m <= ModeDecodeAndMergeSlashes }

// ParseMode accepts the meshConfig names exactly (NONE, BASE, MERGE_SLASHES,
// DECODE_AND_MERGE_SLASHES); "" is Istio's default, BASE.
func ParseMode(s string) (Mode, error) {
	if s == "" || s == "DEFAULT" {
		return ModeBase, nil
	}
	for m := ModeNone; m <= ModeDecodeAndMergeSlashes; m++ {
		if modeNames[m] == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("pathnorm: unknown path normalization %q", s)
}

// Modes lists every valid mode, for tests that run a suite under each.
func Modes() []Mode {
	return []Mode{ModeNone, ModeBase, ModeMergeSlashes, ModeDecodeAndMergeSlashes}
}
