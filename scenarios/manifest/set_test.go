package manifest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

func mustLoad(t *testing.T, name, data string) *Set {
	t.Helper()
	s, err := Load(name, []byte(data))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return s
}

func mustDecode(t *testing.T, name, data string) *Set {
	t.Helper()
	s, err := Decode(name, []byte(data))
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return s
}

const svcA = "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: demo}\nspec:\n  selector: {app: a}\n  ports: [{port: 80}]\n"

func TestEmptySelectorWarningAndRequireEndpoints(t *testing.T) {
	s := mustLoad(t, "s.yaml", nsDemo+svcA)
	if len(s.Warnings) != 1 || s.Warnings[0].Code != WarnEmptySelector || s.Warnings[0].Err.Line != 10 ||
		s.Warnings[0].Err.Field != "spec.selector" {
		t.Fatalf("warnings: %v", s.Warnings)
	}
	err := s.RequireEndpoints("demo/a", "demo/missing")
	l := mustList(t, err)
	got := []string{l[0].Error(), l[1].Error()}
	want := []string{
		"Service demo/missing: required Service is not defined",
		"s.yaml:10: Service demo/a: spec.selector: selects no pod, but endpoints of this Service are required",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Adding a matching Deployment satisfies it.
	if err := s.Merge(mustDecode(t, "d.yaml", deploy("a", nil))); err != nil {
		t.Fatal(err)
	}
	if err := s.RequireEndpoints("demo/a"); err != nil {
		t.Fatalf("after merge: %v", err)
	}
	if len(s.Warnings) != 0 {
		t.Errorf("stale warnings after merge: %v", s.Warnings)
	}
}

func TestMergeReplacesAndValidates(t *testing.T) {
	s := mustLoad(t, "base.yaml", nsDemo+deploy("a", nil))
	// Replace by key keeps position; the new version is what counts.
	upd := mustDecode(t, "upd.yaml", deploy("a", func(d string) string { return strings.Replace(d, "containerPort: 80", "containerPort: 81", 1) }))
	if err := s.Merge(upd); err != nil {
		t.Fatal(err)
	}
	if len(s.Objects) != 2 || s.Objects[1].Source.File != "upd.yaml" {
		t.Fatalf("objects after replace: %+v", s.Objects)
	}
	// An invalid merge leaves the set unchanged.
	bad := mustDecode(t, "bad.yaml", strings.Replace(deploy("b", nil), "namespace: demo", "namespace: other", 1))
	err := s.Merge(bad)
	if l := mustList(t, err); len(l) != 1 || where(l[0]) != "bad.yaml:5: metadata.namespace" {
		t.Fatalf("got %v", err)
	}
	if len(s.Objects) != 2 {
		t.Fatalf("set changed by failed merge: %d objects", len(s.Objects))
	}
}

func TestRemove(t *testing.T) {
	s := mustLoad(t, "base.yaml", nsDemo+deploy("a", nil)+"---\n"+svcA)
	removed, err := s.Remove(mustDecode(t, "del.yaml", svcA))
	if err != nil || len(removed) != 1 || removed[0].Name != "a" || removed[0].GVK.Kind != "Service" {
		t.Fatalf("removed %v, %v", removed, err)
	}
	// Deleting something absent names it and changes nothing.
	_, err = s.Remove(mustDecode(t, "del.yaml", svcA))
	if l := mustList(t, err); len(l) != 1 || !strings.Contains(l[0].Error(), "del.yaml:1: Service demo/a: cannot delete: Service demo/a not found") {
		t.Fatalf("got %v", err)
	}
	// Deleting the namespace cascades.
	removed, err = s.Remove(mustDecode(t, "del.yaml", strings.TrimSuffix(nsDemo, "---\n")))
	if err != nil || len(removed) != 2 || len(s.Objects) != 0 {
		t.Fatalf("cascade removed %d, left %d, err %v", len(removed), len(s.Objects), err)
	}
}

func TestRemoveRefusesDanglingReference(t *testing.T) {
	sa := "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa, namespace: demo}\n---\n"
	s := mustLoad(t, "base.yaml", nsDemo+sa+deploy("a", func(d string) string {
		return strings.Replace(d, "      containers:", "      serviceAccountName: sa\n      containers:", 1)
	}))
	if _, err := s.Remove(mustDecode(t, "del.yaml", sa)); err == nil || len(s.Objects) != 3 {
		t.Fatalf("want refusal, got %v with %d objects", err, len(s.Objects))
	}
}

type probeSpec struct {
	Steps []string `json:"steps"`
}

// TestRegisterExtensionKind shows how the Scenario kind plugs in: a GVK and a
// strict decoder, no change to the loader.
func TestRegisterExtensionKind(t *testing.T) {
	gvk := schema.GroupVersionKind{Group: "test.ambientlab.io", Version: "v1alpha1", Kind: "Probe"}
	dec := func(js []byte) (runtime.Object, error) {
		var doc struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Metadata   map[string]string `json:"metadata"`
			Spec       probeSpec         `json:"spec"`
		}
		if err := yaml.UnmarshalStrict(js, &doc); err != nil {
			return nil, FieldErrors{{Field: "spec", Msg: err.Error()}}
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		u.SetName(doc.Metadata["name"])
		return u, nil
	}
	if err := Register(KindSpec{GVK: gvk, Class: ClassExtension, Decode: dec}); err != nil {
		t.Fatal(err)
	}
	if err := Register(KindSpec{GVK: gvk, Class: ClassExtension, Decode: dec}); err == nil {
		t.Fatal("duplicate registration accepted")
	}
	s := mustLoad(t, "p.yaml", "apiVersion: test.ambientlab.io/v1alpha1\nkind: Probe\nmetadata: {name: p1}\nspec: {steps: [a]}\n")
	if len(s.Objects) != 1 || s.Objects[0].Class != ClassExtension || s.Objects[0].Name != "p1" || s.Objects[0].Namespace != "" {
		t.Fatalf("got %+v", s.Objects)
	}
	_, err := Load("p.yaml", []byte("apiVersion: test.ambientlab.io/v1alpha1\nkind: Probe\nmetadata: {name: p1}\nspec: {stepz: [a]}\n"))
	if l := mustList(t, err); len(l) != 1 || where(l[0]) != "p.yaml:4: spec" {
		t.Fatalf("got %v", err)
	}
}

func TestBuiltinRegistrations(t *testing.T) {
	for _, k := range RegisteredKinds() {
		if k.Class == ClassDeferred && k.GVK.Version != "v1" && (!k.Deprecated || k.Preferred == "") {
			t.Errorf("%v: older version not marked deprecated", k.GVK)
		}
	}
	for _, gvk := range []schema.GroupVersionKind{
		{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"},
		{Group: "networking.istio.io", Version: "v1alpha3", Kind: "ServiceEntry"},
		{Group: "telemetry.istio.io", Version: "v1", Kind: "Telemetry"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "ListenerSet"},
		{Group: "gateway.networking.k8s.io", Version: "v1beta1", Kind: "HTTPRoute"},
	} {
		if _, ok := Lookup(gvk); !ok {
			t.Errorf("%v not registered", gvk)
		}
	}
	if _, ok := Lookup(schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1alpha2", Kind: "TCPRoute"}); ok {
		t.Error("v1alpha2 routes are not served by Gateway API v1.6 CRDs")
	}
}

// TestHostileInputs: reliability S1/S3 — bounded errors, never a panic.
func TestHostileInputs(t *testing.T) {
	bomb := "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += n + ": &" + n + " [*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + ",*" + prev + "]\n"
		prev = n
	}
	cases := map[string]string{
		"unhashable key":  "{{},<<}",
		"alias bomb":      bomb,
		"deep nesting":    strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		"deep mappings":   strings.Repeat("a: {", 5000) + strings.Repeat("}", 5000),
		"tabs":            "apiVersion: v1\n\tkind: Namespace\n",
		"huge":            strings.Repeat("a", MaxFileSize+1),
		"many documents":  strings.Repeat("---\na: 1\n", MaxDocuments+1),
		"truncated":       "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \"unterminated\n",
		"json not object": "[1, 2]",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			set, err := Load("h.yaml", []byte(in))
			if err == nil {
				t.Fatalf("accepted: %+v", set)
			}
			var l ErrorList
			if !errors.As(err, &l) || l[0].File != "h.yaml" {
				t.Fatalf("error %v is not a located ErrorList", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}
