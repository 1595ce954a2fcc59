package v1

import (
	"os"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// FuzzParseReason: whatever parses prints back to the same string, and
// parses again to the same value.
func FuzzParseReason(f *testing.F) {
	for _, s := range []string{"", "filtered", "not-supported", "env-unavailable", "expected-fail:istio/istio#1", "expected-fail:", "x:y", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReason(s)
		if err != nil {
			return
		}
		if r.String() != s {
			t.Fatalf("ParseReason(%q).String() = %q", s, r.String())
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("parsed reason %q is invalid: %v", s, err)
		}
	})
}

// FuzzDecode: Decode never panics, and a report it accepts re-encodes to a
// report it accepts again, unchanged.
func FuzzDecode(f *testing.F) {
	for _, p := range []string{"testdata/report.yaml", "testdata/istio-1.30.0-default-report.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"apiVersion":"ambientlab.io/v1alpha1","kind":"ConformanceReport","tests":[{"reason":"expected-fail:"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			return
		}
		out, err := yaml.Marshal(r)
		if err != nil {
			t.Fatalf("re-encode an accepted report: %v", err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(r, again) {
			t.Fatalf("round trip changed the report:\n%+v\n%+v", r, again)
		}
	})
}
