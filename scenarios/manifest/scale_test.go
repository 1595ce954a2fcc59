package manifest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// manyWorkloads builds n Deployments, each with a Service selecting it.
func manyWorkloads(n int) []byte {
	var b strings.Builder
	b.WriteString(nsDemo)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("w%d", i)
		b.WriteString(deploy(name, nil))
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata: {name: %s, namespace: demo}\nspec:\n  selector: {app: %s}\n  ports: [{name: http, port: 80, targetPort: http}]\n---\n", name, name)
	}
	return []byte(b.String())
}

// TestScaleBounded: reliability S3 — thousands of workloads load in bounded
// time (the budget is loose because CI machines are shared and -race is slow).
func TestScaleBounded(t *testing.T) {
	data := manyWorkloads(4999) // 1 + 2*4999 = 9999 documents, under MaxDocuments
	start := time.Now()
	s, err := Load("scale.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Objects) != 9999 {
		t.Fatalf("%d objects", len(s.Objects))
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
	t.Logf("%d bytes, %d objects in %v", len(data), len(s.Objects), time.Since(start))
}
