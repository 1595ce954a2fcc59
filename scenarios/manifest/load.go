package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Limits that keep hostile or accidental inputs bounded (reliability S3).
const (
	MaxFileSize  = 8 << 20 // bytes per file
	MaxDocuments = 10000   // documents per file
)

// LoadFiles decodes files and directories (their *.yaml and *.yml entries,
// not recursive, sorted by name) and validates the union, so references may
// cross files. It returns every problem at once as an ErrorList, and no Set
// unless all files are valid.
func LoadFiles(paths ...string) (*Set, error) {
	files, errs := expandPaths(paths)
	all := &Set{}
	for _, f := range files {
		data, err := readCapped(f)
		if err != nil {
			errs = append(errs, &Error{File: f, Msg: err.Error()})
			continue
		}
		s, err := Decode(f, data)
		if err != nil {
			errs = append(errs, asList(err)...)
			continue
		}
		all.Objects = append(all.Objects, s.Objects...)
	}
	if len(errs) > 0 {
		return nil, errs.Sort()
	}
	if err := all.Validate(); err != nil {
		return nil, err
	}
	return all, nil
}

// Load decodes and validates one file's contents; name is used in messages.
func Load(name string, data []byte) (*Set, error) {
	s, err := Decode(name, data)
	if err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func expandPaths(paths []string) ([]string, ErrorList) {
	var files []string
	var errs ErrorList
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, &Error{File: p, Msg: err.Error()})
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			errs = append(errs, &Error{File: p, Msg: err.Error()})
			continue
		}
		var in []string
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
				in = append(in, filepath.Join(p, e.Name()))
			}
		}
		sort.Strings(in)
		files = append(files, in...)
	}
	return files, errs
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("file is larger than the %d MiB limit", MaxFileSize>>20)
	}
	return data, nil
}

func asList(err error) ErrorList {
	var l ErrorList
	if errors.As(err, &l) {
		return l
	}
	var e *Error
	if errors.As(err, &e) {
		return ErrorList{e}
	}
	return ErrorList{{Msg: err.Error()}}
}

// Decode splits data into documents and decodes each strictly, without the
// cross-object checks of Validate (so a file applied at run time can refer to
// objects loaded earlier; Set.Merge validates the result). Empty and
// comment-only documents are skipped.
func Decode(name string, data []byte) (*Set, error) {
	if len(data) > MaxFileSize {
		return nil, ErrorList{{File: name, Msg: fmt.Sprintf("file is larger than the %d MiB limit", MaxFileSize>>20)}}
	}
	if !utf8.Valid(data) {
		return nil, ErrorList{{File: name, Line: invalidUTF8Line(data), Msg: "file is not valid UTF-8"}}
	}
	// YAMLReader re-emits lines with "\n"; normalizing first keeps each
	// document a verbatim slice of data, which is how line offsets are found.
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	chunks, err := split(name, data)
	if err != nil {
		return nil, ErrorList{err}
	}
	set := &Set{}
	var errs ErrorList
	for _, c := range chunks {
		obj, ok, derrs := decodeDocument(name, c.doc, c.offset, c.data)
		errs = append(errs, derrs...)
		if ok {
			set.Objects = append(set.Objects, obj)
		}
	}
	if len(errs) > 0 {
		return nil, errs.Sort()
	}
	return set, nil
}

type chunk struct {
	data   []byte
	doc    int // 1-based
	offset int // lines before the chunk
}

// split cuts data into documents with YAMLReader and finds each one's line
// offset. It runs before any decoding so that an oversized document count is
// rejected cheaply.
func split(name string, data []byte) ([]chunk, *Error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []chunk
	cursor, cursorLine := 0, 0 // byte offset and lines before it, advanced together
	for doc := 1; ; doc++ {
		c, err := reader.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, &Error{File: name, Line: badSeparatorLine(data, cursor, cursorLine), Doc: doc, Msg: err.Error()}
		}
		if doc > MaxDocuments {
			return nil, &Error{File: name, Line: cursorLine + 1, Doc: doc, Msg: fmt.Sprintf("more than %d documents", MaxDocuments)}
		}
		if i := bytes.Index(data[cursor:], c); i >= 0 {
			cursorLine += bytes.Count(data[cursor:cursor+i], []byte("\n"))
			out = append(out, chunk{data: c, doc: doc, offset: cursorLine})
			cursorLine += bytes.Count(c, []byte("\n"))
			cursor += i + len(c)
		} else {
			out = append(out, chunk{data: c, doc: doc, offset: cursorLine})
		}
	}
}

// badSeparatorLine finds the first "---" line after byte offset from that
// carries more than a comment: the line YAMLReader rejected.
func badSeparatorLine(data []byte, from, fromLine int) int {
	line := fromLine + 1
	for _, l := range strings.Split(string(data[from:]), "\n") {
		if rest, ok := strings.CutPrefix(l, "---"); ok {
			if t := strings.TrimSpace(rest); t != "" && !strings.HasPrefix(t, "#") {
				return line
			}
		}
		line++
	}
	return fromLine + 1
}

func invalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[size:]
	}
	return line
}

// envelope is the lax first look at a document, for messages and lookup.
type envelope struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

var yamlLineRE = regexp.MustCompile(`line (\d+):`)

// decodeDocument decodes one document. ok is false for empty documents and on
// error. A panic in any decoder becomes an error (reliability S1).
func decodeDocument(file string, doc, offset int, chunk []byte) (obj Object, ok bool, errs ErrorList) {
	docErr := func(line int, field, msg string) *Error {
		return &Error{File: file, Line: line, Doc: doc, Field: field, Msg: msg}
	}
	defer func() {
		if r := recover(); r != nil {
			ok = false
			errs = ErrorList{docErr(offset+firstContentLine(chunk), "", fmt.Sprintf("decoder failed: %v", r))}
		}
	}()
	js, err := yaml.YAMLToJSONStrict(chunk)
	if err != nil {
		line := offset + firstContentLine(chunk)
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			line = offset + n
		}
		msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
		return obj, false, ErrorList{docErr(line, "", msg)}
	}
	js = bytes.TrimSpace(js)
	if string(js) == "null" || len(js) == 0 {
		return obj, false, nil // empty or comment-only document
	}
	loc := newLocator(chunk, offset)
	if js[0] != '{' {
		return obj, false, ErrorList{docErr(loc.first, "", "document is not a mapping (expected a Kubernetes object)")}
	}
	var env envelope
	_ = json.Unmarshal(js, &env) // lax on purpose: only for messages; the strict decode follows
	withObj := func(e *Error) *Error {
		e.Kind, e.Namespace, e.Name = env.Kind, env.Metadata.Namespace, env.Metadata.Name
		return e
	}
	if env.APIVersion == "" || env.Kind == "" {
		var out ErrorList
		for _, f := range []struct{ name, v string }{{"apiVersion", env.APIVersion}, {"kind", env.Kind}} {
			if f.v == "" {
				out = append(out, withObj(docErr(loc.line(f.name, ""), f.name, "required")))
			}
		}
		return obj, false, out
	}
	gv, err := schema.ParseGroupVersion(env.APIVersion)
	if err != nil {
		return obj, false, ErrorList{withObj(docErr(loc.line("apiVersion", ""), "apiVersion", err.Error()))}
	}
	gvk := gv.WithKind(env.Kind)
	spec, known := Lookup(gvk)
	if !known {
		if vs := versionsOf(gvk.GroupKind()); len(vs) > 0 {
			return obj, false, ErrorList{withObj(docErr(loc.line("apiVersion", ""), "apiVersion",
				fmt.Sprintf("%s is not a supported version of %s; use %s", env.APIVersion, env.Kind, strings.Join(vs, " or "))))}
		}
		return obj, false, ErrorList{withObj(docErr(loc.line("kind", ""), "kind",
			fmt.Sprintf("unknown kind %q in apiVersion %q", env.Kind, env.APIVersion)))}
	}
	decoded, err := spec.Decode(js)
	if err != nil {
		var ferrs FieldErrors
		if !errors.As(err, &ferrs) {
			return obj, false, ErrorList{withObj(docErr(loc.first, "", err.Error()))}
		}
		for _, fe := range ferrs {
			line, field := loc.resolve(fe.Field, fe.JSONType)
			if fe.SearchKey != "" {
				if p, l, found := loc.findKey(fe.Field, fe.SearchKey); found {
					field, line = p, l
				} else {
					field += "." + fe.SearchKey
				}
			}
			errs = append(errs, withObj(docErr(line, field, fe.Msg)))
		}
		return obj, false, errs
	}
	obj = Object{Obj: decoded, GVK: gvk, Class: spec.Class, Source: Source{File: file, Line: loc.first, Doc: doc}, loc: loc}
	if m, err := meta.Accessor(decoded); err == nil {
		obj.Name, obj.Namespace = m.GetName(), m.GetNamespace()
		if spec.Namespaced && obj.Namespace == "" {
			obj.Namespace = "default"
			m.SetNamespace("default")
		}
		if !spec.Namespaced {
			obj.Namespace = "" // as the API server does for cluster-scoped kinds
			m.SetNamespace("")
		}
	}
	if spec.Deprecated {
		obj.warnings = append(obj.warnings, Warning{Code: WarnDeprecatedAPIVersion,
			Err: *obj.ErrorAt("apiVersion", "deprecated apiVersion %s; use %s", env.APIVersion, spec.Preferred)})
	}
	if spec.Class == ClassDeferred {
		if why := notEnforcedReason(obj); why != "" {
			obj.warnings = append(obj.warnings, Warning{Code: WarnNotEnforced, Err: *obj.ErrorAt("", "%s", why)})
		}
	}
	return obj, true, nil
}
