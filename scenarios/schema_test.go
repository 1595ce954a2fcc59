package scenarios

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestSchemaFresh fails when schema.json no longer matches the Go types.
func TestSchemaFresh(t *testing.T) {
	want, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Error("scenarios/schema.json is stale: run `go generate ./scenarios`")
	}
}

// TestSchemaShape spot-checks what the schema must say to be useful to an
// editor: closed objects, the step union by kind, enums.
func TestSchemaShape(t *testing.T) {
	b, _ := JSONSchema()
	var s struct {
		Defs map[string]struct {
			AdditionalProperties bool                       `json:"additionalProperties"`
			Properties           map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ScenarioSpec", "ProbeStep", "MatrixStep", "ExecStep", "ApplyStep", "DeleteStep", "WaitStep", "ProbeExpect"} {
		d, ok := s.Defs[name]
		if !ok || d.AdditionalProperties {
			t.Errorf("%s: missing or open", name)
		}
	}
	var k bytes.Buffer
	json.Compact(&k, s.Defs["ProbeStep"].Properties["kind"])
	if k.String() != `{"const":"probe"}` {
		t.Errorf("ProbeStep.kind = %s", k.String())
	}
	if o := string(s.Defs["ProbeExpect"].Properties["outcome"]); !bytes.Contains([]byte(o), []byte(`"dns-error"`)) {
		t.Errorf("ProbeExpect.outcome = %s", o)
	}
}
