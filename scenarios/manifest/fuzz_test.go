package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad: any input yields a Set or an ErrorList, never a panic; every
// error names the file.
func FuzzLoad(f *testing.F) {
	seeds := []string{
		"{{},<<}",
		"a: &a [x,x,x,x]\nb: &b [*a,*a,*a,*a]\nc: [*b,*b,*b,*b]\n",
		strings.Repeat("[", 1000) + strings.Repeat("]", 1000),
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: \xff\xfe}\n",
		"---\n--- # c\n---\n",
		"--- x\n",
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n",
		"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {acton: DENY}\n",
		"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\nspec: {action: 7}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80, targetPort: [1]}]}\n",
		nsDemo + deploy("a", nil),
	}
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, string(b))
		}
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Load("f.yaml", data)
		if err == nil {
			if set == nil {
				t.Fatal("nil set without error")
			}
			return
		}
		var l ErrorList
		if !errors.As(err, &l) || len(l) == 0 {
			t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
		}
		for _, e := range l {
			if e.File != "f.yaml" || e.Msg == "" {
				t.Fatalf("unlocated error %+v", e)
			}
		}
	})
}
