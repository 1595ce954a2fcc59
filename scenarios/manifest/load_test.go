package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
)

// where renders the location part users see: "file:line: field".
func where(e *Error) string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Field) }

func mustList(t *testing.T, err error) ErrorList {
	t.Helper()
	var l ErrorList
	if !errors.As(err, &l) {
		t.Fatalf("error %v (%T) is not an ErrorList", err, err)
	}
	return l
}

const nsDemo = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n---\n"

// deploy returns a valid Deployment document; tweak edits its text.
func deploy(name string, tweak func(string) string) string {
	d := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
  namespace: demo
spec:
  selector:
    matchLabels:
      app: ` + name + `
  template:
    metadata:
      labels:
        app: ` + name + `
    spec:
      containers:
      - name: main
        image: docker.io/kennethreitz/httpbin
        ports:
        - name: http
          containerPort: 80
`
	if tweak != nil {
		d = tweak(d)
	}
	return d
}

func TestLoadFilesTypoReportsLineOfKey(t *testing.T) {
	set, err := LoadFiles("testdata/typo-sa.yaml")
	if set != nil {
		t.Fatalf("got a set despite errors")
	}
	l := mustList(t, err)
	if len(l) != 1 {
		t.Fatalf("want 1 error, got %v", err)
	}
	want := "testdata/typo-sa.yaml:20: Deployment demo/client: spec.template.spec.serviceAcountName: unknown field"
	if l[0].Error() != want {
		t.Errorf("got  %q\nwant %q", l[0].Error(), want)
	}
	if l[0].Doc != 2 {
		t.Errorf("doc = %d, want 2", l[0].Doc)
	}
}

func TestActonDenyIsRejected(t *testing.T) {
	_, err := LoadFiles("testdata/acton-deny.yaml")
	l := mustList(t, err)
	if len(l) != 1 || where(l[0]) != "testdata/acton-deny.yaml:11: spec.acton" || l[0].Msg != "unknown field" {
		t.Fatalf("got %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string // "file:line: field" in sorted order
		msg  string   // substring of the first error's message
	}{
		{"wrong type scalar", nsDemo + deploy("a", func(s string) string {
			return strings.Replace(s, "spec:\n  selector", "spec:\n  replicas: \"3\"\n  selector", 1)
		}), []string{"t.yaml:12: spec.replicas"}, "wrong type: got string"},
		{"wrong type in second list element", nsDemo + deploy("a", func(s string) string {
			return s + "        - name: admin\n          containerPort: \"x\"\n"
		}), []string{"t.yaml:27: spec.template.spec.containers[0].ports[1].containerPort"}, "want int32"},
		{"several unknown fields at once", nsDemo + deploy("a", func(s string) string {
			return strings.Replace(strings.Replace(s, "image:", "imag: x\n        image:", 1), "  selector:", "  selectr: {}\n  selector:", 1)
		}), []string{"t.yaml:12: spec.selectr", "t.yaml:23: spec.template.spec.containers[0].imag"}, "unknown field"},
		{"duplicate key", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n",
			[]string{"t.yaml:5: "}, "already set"},
		{"istio invalid enum", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  action: DENYY\n",
			[]string{"t.yaml:5: spec.action"}, `invalid value for enum field: "DENYY"`},
		{"istio nested typo", "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - from:\n    - source:\n        principls: [a]\n",
			[]string{"t.yaml:8: spec.rules[0].from[0].source.principls"}, "unknown field"},
		{"gateway api typo", "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec:\n  gatewayClasName: istio\n",
			[]string{"t.yaml:5: spec.gatewayClasName"}, "unknown field"},
		{"unknown kind", "apiVersion: v1\nkind: ConfigMapp\nmetadata: {name: x}\n", []string{"t.yaml:2: kind"}, `unknown kind "ConfigMapp"`},
		{"unserved version", "apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: x}\n", []string{"t.yaml:1: apiVersion"}, "use apps/v1"},
		{"gateway v1alpha2 route not served", "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: x}\n",
			[]string{"t.yaml:1: apiVersion"}, "use gateway.networking.k8s.io/v1"},
		{"missing kind", "# c\napiVersion: v1\nmetadata: {name: x}\n", []string{"t.yaml:2: kind"}, "required"},
		{"yaml syntax", nsDemo + "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [\n", []string{"t.yaml:9: "}, "yaml"},
		{"bad separator", nsDemo + "--- nope\n", []string{"t.yaml:6: "}, "separator"},
		{"not a mapping", "- a\n- b\n", []string{"t.yaml:1: "}, "not a mapping"},
		{"invalid utf8", "apiVersion: v1\nkind: Namespace\nmetadata: {name: \xff}\n", []string{"t.yaml:3: "}, "UTF-8"},
		{"duplicate name", nsDemo + deploy("a", nil) + "---\n" + deploy("a", nil),
			[]string{"t.yaml:30: metadata.name"}, "duplicate Deployment; first defined at t.yaml:6"},
		{"undeclared namespace", strings.Replace(deploy("a", nil), "demo", "nowhere", 1),
			[]string{"t.yaml:5: metadata.namespace"}, `namespace "nowhere" is not declared`},
		{"missing service account", nsDemo + deploy("a", func(s string) string {
			return strings.Replace(s, "      containers:", "      serviceAccountName: ghost\n      containers:", 1)
		}), []string{"t.yaml:20: spec.template.spec.serviceAccountName"}, "ServiceAccount demo/ghost not found"},
		{"selector mismatch", nsDemo + deploy("a", func(s string) string {
			return strings.Replace(s, "      app: a\n  template", "      app: b\n  template", 1)
		}), []string{"t.yaml:12: spec.selector"}, "does not match template labels"},
		{"container port out of range and duplicated", nsDemo + deploy("a", func(s string) string {
			return strings.Replace(s, "containerPort: 80", "containerPort: 70000\n        - containerPort: 70000", 1)
		}), []string{"t.yaml:25: spec.template.spec.containers[0].ports[0].containerPort",
			"t.yaml:26: spec.template.spec.containers[0].ports[1].containerPort",
			"t.yaml:26: spec.template.spec.containers[0].ports[1].containerPort"}, "out of range"},
		{"bad names", "apiVersion: v1\nkind: Namespace\nmetadata: {name: Demo_1}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: -x}\n",
			[]string{"t.yaml:3: metadata.name", "t.yaml:7: metadata.name"}, "invalid name"},
		{"service port range and missing named target", nsDemo + deploy("a", nil) +
			"---\napiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: demo}\nspec:\n  selector: {app: a}\n  ports:\n  - name: http\n    port: 0\n  - name: grpc\n    port: 90\n    targetPort: grpc\n",
			[]string{"t.yaml:34: spec.ports[0].port", "t.yaml:37: spec.ports[1].targetPort"}, "out of range"},
		{"cluster IP syntax", nsDemo + "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: demo}\nspec:\n  clusterIP: 10.0.0.300\n  ports: [{port: 80}]\n",
			[]string{"t.yaml:10: spec.clusterIP"}, "not an IPv4"},
		{"bad annotation-free label", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels:\n    bad key: v\n",
			[]string{"t.yaml:5: metadata.labels"}, "bad key"},
		{"replicas negative", nsDemo + deploy("a", func(s string) string {
			return strings.Replace(s, "spec:\n  selector", "spec:\n  replicas: -1\n  selector", 1)
		}), []string{"t.yaml:12: spec.replicas"}, "between 0 and"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Load("t.yaml", []byte(tc.yaml))
			if set != nil || err == nil {
				t.Fatalf("want error, got set with %d objects", len(set.Objects))
			}
			l := mustList(t, err)
			var got []string
			for _, e := range l {
				got = append(got, where(e))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("locations:\n got  %q\n want %q\nerror: %v", got, tc.want, err)
			}
			if !strings.Contains(l[0].Msg, tc.msg) {
				t.Errorf("message %q does not contain %q", l[0].Msg, tc.msg)
			}
		})
	}
}

func TestLoadValidMultiDoc(t *testing.T) {
	set, err := LoadFiles("testdata/valid-mixed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range set.Objects {
		got = append(got, fmt.Sprintf("%s %s/%s line %d doc %d", o.GVK.Kind, o.Namespace, o.Name, o.Source.Line, o.Source.Doc))
	}
	want := []string{
		"Namespace /demo line 6 doc 3",
		"ServiceAccount demo/web line 13 doc 4",
		"Pod demo/web line 19 doc 5",
		"Service demo/web line 37 doc 6",
		"DestinationRule demo/web line 50 doc 7",
		"HTTPRoute demo/web line 58 doc 8",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var warns []string
	for _, w := range set.Warnings {
		warns = append(warns, fmt.Sprintf("%d %s %s", w.Err.Line, w.Code, w.Err.Kind))
	}
	wantW := []string{"50 not-yet-enforced DestinationRule", "50 deprecated-api-version DestinationRule"} // the HTTPRoute has a Service parent: enforced by its waypoint
	if strings.Join(warns, "\n") != strings.Join(wantW, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(warns, "\n"), strings.Join(wantW, "\n"))
	}
	if l := set.Objects[0].Obj.(*corev1.Namespace).Labels["istio.io/dataplane-mode"]; l != "ambient" {
		t.Errorf("namespace label = %q", l)
	}
}

func TestCRLFAndMissingTrailingNewline(t *testing.T) {
	data := "apiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  name: a\r\n---\r\napiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  nme: b"
	_, err := Load("crlf.yaml", []byte(data))
	l := mustList(t, err)
	if len(l) != 1 || where(l[0]) != "crlf.yaml:9: metadata.nme" {
		t.Fatalf("got %v", err)
	}
}

func TestIstioSpecIsStrictResult(t *testing.T) {
	set, err := Load("p.yaml", []byte("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec:\n  action: DENY\n  rules: [{}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	ap := set.Objects[0].Obj.(*securityv1.AuthorizationPolicy)
	if ap.Spec.GetAction().String() != "DENY" || len(ap.Spec.GetRules()) != 1 || ap.Namespace != "default" {
		t.Fatalf("decoded %v in %q", ap.Spec.String(), ap.Namespace)
	}
}

func TestEmptyInputs(t *testing.T) {
	for _, in := range []string{"", "\n", "---\n", "# only a comment\n", "---\n---\n# x\n---\n"} {
		set, err := Load("e.yaml", []byte(in))
		if err != nil || len(set.Objects) != 0 {
			t.Errorf("%q: got %v, %v", in, set, err)
		}
	}
}

func TestErrorListSortedAcrossFiles(t *testing.T) {
	_, err := LoadFiles("testdata/typo-sa.yaml", "testdata/acton-deny.yaml", "testdata/missing.yaml")
	l := mustList(t, err)
	var got []string
	for _, e := range l {
		got = append(got, fmt.Sprintf("%s:%d", e.File, e.Line))
	}
	want := "testdata/acton-deny.yaml:11 testdata/missing.yaml:0 testdata/typo-sa.yaml:20"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v", got)
	}
	if !strings.HasPrefix(err.Error(), "3 problems:\n") {
		t.Errorf("rendering: %q", err.Error())
	}
}
