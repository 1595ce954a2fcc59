package scenarios

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	sigsjson "sigs.k8s.io/json"

	"github.com/ambientlab/ambientlab/scenarios/manifest"
)

// The Scenario kind plugs into the manifest loader, so one file holds
// manifests plus the Scenario document and every decoding problem in any of
// them comes out of one load, with lines.
func init() {
	if err := manifest.Register(manifest.KindSpec{GVK: GVK, Class: manifest.ClassExtension, Decode: decodeScenario}); err != nil {
		panic(err)
	}
}

// rawSpec mirrors ScenarioSpec but keeps steps raw: the union is decoded per
// element once its kind is known.
type rawSpec struct {
	Description string            `json:"description,omitempty"`
	Profile     string            `json:"profile"`
	Features    []string          `json:"features,omitempty"`
	Requires    []string          `json:"requires,omitempty"`
	Cluster     ClusterSpec       `json:"cluster,omitempty"`
	Timeouts    TimeoutsSpec      `json:"timeouts,omitempty"`
	Steps       []json.RawMessage `json:"steps"`
}

type rawScenario struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            rawSpec           `json:"spec"`
}

// decodeScenario is the strict Decoder registered with the manifest loader.
// It reports every unknown or duplicate field and the first type error per
// step, as field paths the loader turns into lines.
func decodeScenario(doc []byte) (runtime.Object, error) {
	var raw rawScenario
	var errs manifest.FieldErrors
	errs = append(errs, strictUnmarshal(doc, &raw, "")...)
	out := &Scenario{TypeMeta: raw.TypeMeta, Metadata: raw.Metadata}
	out.Spec = ScenarioSpec{
		Description: raw.Spec.Description, Profile: raw.Spec.Profile, Features: raw.Spec.Features,
		Requires: raw.Spec.Requires, Cluster: raw.Spec.Cluster, Timeouts: raw.Spec.Timeouts,
	}
	for i, js := range raw.Spec.Steps {
		step, serrs := decodeStep(js, fmt.Sprintf("spec.steps[%d]", i))
		errs = append(errs, serrs...)
		if step != nil {
			out.Spec.Steps = append(out.Spec.Steps, step)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// decodeStep decodes one element of the step union by its kind.
func decodeStep(js json.RawMessage, path string) (Step, manifest.FieldErrors) {
	var head struct {
		Kind *string `json:"kind"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return nil, manifest.FieldErrors{{Field: path, Msg: "a step must be a mapping with a kind"}}
	}
	if head.Kind == nil {
		return nil, manifest.FieldErrors{{Field: path + ".kind", Msg: "required"}}
	}
	kind, err := ParseStepKind(*head.Kind)
	if err != nil {
		return nil, manifest.FieldErrors{{Field: path + ".kind", Msg: err.Error()}}
	}
	var step Step
	switch kind {
	case StepApply:
		step = &ApplyStep{}
	case StepDelete:
		step = &DeleteStep{}
	case StepExec:
		step = &ExecStep{}
	case StepProbe:
		step = &ProbeStep{}
	case StepMatrix:
		step = &MatrixStep{}
	case StepWait:
		step = &WaitStep{}
	case StepLoad:
		step = &LoadStep{}
	}
	if errs := strictUnmarshal(js, step, path); len(errs) > 0 {
		return nil, errs
	}
	return step, nil
}

var (
	strictFieldRE = regexp.MustCompile(`^(unknown|duplicate) field "(.*)"$`)
	typeErrRE     = regexp.MustCompile(`cannot unmarshal (\w+) into Go (?:struct field (\S+)|value) of type (\S+)`)
)

// strictUnmarshal decodes case-sensitively, rejecting unknown and duplicate
// fields, and returns field errors with paths under prefix.
func strictUnmarshal(js []byte, v any, prefix string) manifest.FieldErrors {
	strict, err := sigsjson.UnmarshalStrict(js, v, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	var out manifest.FieldErrors
	join := func(p string) string {
		switch {
		case prefix == "":
			return p
		case p == "":
			return prefix
		}
		return prefix + "." + p
	}
	for _, e := range strict {
		if m := strictFieldRE.FindStringSubmatch(e.Error()); m != nil {
			out = append(out, manifest.FieldError{Field: join(m[2]), Msg: m[1] + " field"})
			continue
		}
		out = append(out, manifest.FieldError{Field: prefix, Msg: e.Error()})
	}
	if err != nil {
		if m := typeErrRE.FindStringSubmatch(err.Error()); m != nil {
			out = append(out, manifest.FieldError{Field: join(structFieldPath(m[2])), JSONType: m[1],
				Msg: fmt.Sprintf("wrong type: got %s, want %s", m[1], m[3])})
		} else {
			out = append(out, manifest.FieldError{Field: prefix, Msg: err.Error()})
		}
	}
	return out
}

// structFieldPath strips the Go type name encoding/json puts first
// ("ScenarioSpec.spec.cluster.nodes" → "spec.cluster.nodes").
func structFieldPath(f string) string {
	if i := strings.IndexByte(f, '.'); i > 0 && f[0] >= 'A' && f[0] <= 'Z' {
		return f[i+1:]
	}
	if f != "" && f[0] >= 'A' && f[0] <= 'Z' {
		return ""
	}
	return f
}

// roundTrip deep-copies a Scenario through its JSON form and the strict decoder.
func roundTrip(s *Scenario) (*Scenario, error) {
	js, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	obj, err := decodeScenario(js)
	if err != nil {
		return nil, err
	}
	return obj.(*Scenario), nil
}
