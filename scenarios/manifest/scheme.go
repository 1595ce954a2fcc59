package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	istioscheme "istio.io/client-go/pkg/clientset/versioned/scheme"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	k8sscheme "k8s.io/client-go/kubernetes/scheme"
	gwscheme "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/scheme"
)

// scheme is the one runtime.Scheme of conventions.md §4: Kubernetes, Istio and
// Gateway API types. strictDecoder rejects unknown and duplicate fields.
var (
	scheme        = newScheme()
	strictDecoder = serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{k8sscheme.AddToScheme, istioscheme.AddToScheme, gwscheme.AddToScheme} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("manifest: building scheme: %v", err))
		}
	}
	return s
}

// FieldError is a decoding problem at a field path. When SearchKey is set the
// decoder knows only the key's name (protojson errors), and the loader looks
// for the first key of that name beneath Field to complete the path.
type FieldError struct {
	Field     string
	SearchKey string
	// JSONType is the JSON type of the offending value when known ("string",
	// "number", ...); it disambiguates index-less paths of type errors.
	JSONType string
	Msg      string
}

func (e FieldError) Error() string {
	f := e.Field
	if e.SearchKey != "" {
		f += "…" + e.SearchKey
	}
	return f + ": " + e.Msg
}

// FieldErrors is what Decoders return for field-level problems.
type FieldErrors []FieldError

func (l FieldErrors) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

var strictFieldRE = regexp.MustCompile(`^(unknown|duplicate) field "(.*)"$`)

// schemeDecoder returns the strict decoder for a scheme kind. Istio kinds get
// a second strict protojson pass over their spec (see istioSpecPass).
func schemeDecoder(want schema.GroupVersionKind) Decoder {
	return func(doc []byte) (runtime.Object, error) {
		isIstio := strings.HasSuffix(want.Group, ".istio.io")
		obj, gvk, err := strictDecoder.Decode(doc, nil, nil)
		if err != nil {
			if isIstio {
				// Istio's own unmarshaler reports bad enums without a field
				// name; the strict protojson pass names it.
				if fresh, nerr := scheme.New(want); nerr == nil {
					if errs := istioSpecPass(fresh, doc); len(errs) > 0 {
						return nil, errs
					}
				}
			}
			return nil, translateDecodeError(err)
		}
		if *gvk != want {
			return nil, fmt.Errorf("decoded %v, expected %v", *gvk, want)
		}
		if isIstio {
			if errs := istioSpecPass(obj, doc); len(errs) > 0 {
				return nil, errs
			}
		}
		return obj, nil
	}
}

// translateDecodeError turns apimachinery strict errors and encoding/json type
// errors into field errors; anything else stays a document-level error.
func translateDecodeError(err error) error {
	if runtime.IsStrictDecodingError(err) {
		var sde interface{ Errors() []error }
		if errors.As(err, &sde) {
			var out FieldErrors
			for _, e := range sde.Errors() {
				if m := strictFieldRE.FindStringSubmatch(e.Error()); m != nil {
					out = append(out, FieldError{Field: m[2], Msg: m[1] + " field"})
				} else {
					out = append(out, FieldError{Msg: e.Error()})
				}
			}
			return out
		}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return FieldErrors{{Field: typeErrorPath(te.Field), JSONType: te.Value,
			Msg: fmt.Sprintf("wrong type: got %s, want %s", te.Value, te.Type)}}
	}
	return err
}

// typeErrorPath strips the leading Go struct name encoding/json puts into
// UnmarshalTypeError.Field in some versions ("DeploymentSpec.spec.replicas").
func typeErrorPath(f string) string {
	if i := strings.IndexByte(f, '.'); i > 0 && f[0] >= 'A' && f[0] <= 'Z' {
		return f[i+1:]
	}
	return f
}

var (
	protoUnknownRE = regexp.MustCompile(`unknown field "([^"]+)"`)
	protoValueRE   = regexp.MustCompile(`invalid value for (\w+) field (\w+): (.*)`)
	protoPosRE     = regexp.MustCompile(`^proto:\s*(\(line \d+:\d+\):\s*)?`)
)

// istioSpecPass is conventions.md §4 step 5: istio.io/api's JSON unmarshalers
// allow unknown fields, so a typo'd `acton: DENY` would silently turn a DENY
// policy into ALLOW-all. Re-decoding the spec with protojson (strict by
// default) rejects unknown fields and invalid enum values.
func istioSpecPass(obj runtime.Object, doc []byte) FieldErrors {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	spec := v.Elem().FieldByName("Spec")
	if !spec.IsValid() || !spec.CanAddr() {
		return nil
	}
	msg, ok := spec.Addr().Interface().(proto.Message)
	if !ok {
		return nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return FieldErrors{{Field: "spec", Msg: err.Error()}}
	}
	raw, ok := top["spec"]
	if !ok || string(raw) == "null" {
		return nil
	}
	fresh := msg.ProtoReflect().New().Interface()
	if err := protojson.Unmarshal(raw, fresh); err != nil {
		return FieldErrors{protoFieldError(err)}
	}
	// The strict result is authoritative; the scheme decode only provided the
	// envelope (metadata).
	proto.Reset(msg)
	proto.Merge(msg, fresh)
	return nil
}

func protoFieldError(err error) FieldError {
	text := protoPosRE.ReplaceAllString(strings.ReplaceAll(err.Error(), "\u00a0", " "), "")
	if m := protoUnknownRE.FindStringSubmatch(text); m != nil {
		return FieldError{Field: "spec", SearchKey: m[1], Msg: "unknown field"}
	}
	if m := protoValueRE.FindStringSubmatch(text); m != nil {
		return FieldError{Field: "spec", SearchKey: m[2], Msg: fmt.Sprintf("invalid value for %s field: %s", m[1], m[3])}
	}
	return FieldError{Field: "spec", Msg: text}
}
