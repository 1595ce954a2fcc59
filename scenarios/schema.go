package scenarios

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
)

//go:generate go run ./internal/genschema -o schema.json

// JSONSchema returns the JSON Schema (draft 2020-12) of the Scenario kind,
// generated from the Go types by reflection, so it cannot drift from the
// decoder: every object is closed (additionalProperties: false) as strict
// decoding is, the step union is a oneOf discriminated by kind, and enums
// list the typed constants. schema.json is its output (see TestSchemaFresh).
func JSONSchema() ([]byte, error) {
	g := &schemaGen{defs: map[string]any{}}
	root := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://ambientlab.io/schemas/scenario-v1alpha1.json",
		"title":                "ambientlab Scenario (" + GroupVersion.String() + ")",
		"description":          "The kind: Scenario document of a scenario file. See docs/scenarios.md.",
		"type":                 "object",
		"required":             []string{"apiVersion", "kind", "metadata", "spec"},
		"additionalProperties": false,
		"properties": map[string]any{
			"apiVersion": map[string]any{"const": GroupVersion.String()},
			"kind":       map[string]any{"const": GVK.Kind},
			"metadata": map[string]any{"type": "object", "required": []string{"name"},
				"properties": map[string]any{"name": map[string]any{"type": "string"},
					"labels":      map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
					"annotations": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}}},
			"spec": g.ref(reflect.TypeOf(ScenarioSpec{})),
		},
		"$defs": g.defs,
	}
	return json.MarshalIndent(root, "", "  ")
}

// enums maps "Type.jsonField" of raw string fields to their closed sets.
func enums() map[string][]string {
	var profiles, feats, caps, outcomes, waits []string
	for _, p := range Profiles {
		profiles = append(profiles, string(p))
	}
	for _, f := range AllFeatures() {
		feats = append(feats, string(f))
	}
	for _, c := range Capabilities {
		caps = append(caps, string(c))
	}
	for _, o := range Outcomes {
		outcomes = append(outcomes, string(o))
	}
	for _, w := range WaitFors {
		waits = append(waits, string(w))
	}
	return map[string][]string{
		"ScenarioSpec.profile":  profiles,
		"ScenarioSpec.features": feats,
		"ScenarioSpec.requires": caps,
		"ProbeExpect.outcome":   outcomes,
		"WaitStep.for":          waits,
	}
}

var stepTypes = map[StepKind]reflect.Type{
	StepApply: reflect.TypeOf(ApplyStep{}), StepDelete: reflect.TypeOf(DeleteStep{}), StepExec: reflect.TypeOf(ExecStep{}),
	StepProbe: reflect.TypeOf(ProbeStep{}), StepMatrix: reflect.TypeOf(MatrixStep{}), StepWait: reflect.TypeOf(WaitStep{}),
	StepLoad: reflect.TypeOf(LoadStep{}),
}

type schemaGen struct{ defs map[string]any }

func (g *schemaGen) ref(t reflect.Type) map[string]any {
	if _, ok := g.defs[t.Name()]; !ok {
		g.defs[t.Name()] = nil // reserve against recursion
		g.defs[t.Name()] = g.object(t, "")
	}
	return map[string]any{"$ref": "#/$defs/" + t.Name()}
}

// object describes a struct; kind, when set, pins the step discriminator.
func (g *schemaGen) object(t reflect.Type, kind StepKind) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" {
				walk(f.Type)
				continue
			}
			if name == "" || name == "-" {
				continue
			}
			s := g.field(t.Name()+"."+name, f.Type)
			if t.Name() == "StepMeta" && name == "kind" && kind != "" {
				s = map[string]any{"const": string(kind)}
			}
			props[name] = s
			if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
				required = append(required, name)
			}
		}
	}
	walk(t)
	sort.Strings(required)
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}

func (g *schemaGen) field(key string, t reflect.Type) map[string]any {
	if vs, ok := enums()[key]; ok {
		if t.Kind() == reflect.Slice {
			return map[string]any{"type": "array", "items": map[string]any{"enum": vs}}
		}
		return map[string]any{"enum": vs}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.field(key, t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.field(key, t.Elem())}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.field(key, t.Elem())}
	case reflect.Interface: // the step union
		var one []any
		for _, k := range StepKinds {
			st := stepTypes[k]
			name := st.Name()
			g.defs[name] = g.object(st, k)
			one = append(one, map[string]any{"$ref": "#/$defs/" + name})
		}
		return map[string]any{"oneOf": one}
	case reflect.Struct:
		return g.ref(t)
	}
	return map[string]any{}
}
