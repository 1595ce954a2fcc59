package manifest

import (
	"strconv"
	"strings"
	"sync"

	// The YAML node tree is used only to find line numbers for field paths;
	// decoding itself goes through sigs.k8s.io/yaml and the strict apimachinery
	// codecs (conventions.md §4). go.yaml.in/yaml/v3 is the maintained
	// continuation of gopkg.in/yaml.v3 with the same API.
	yamlv3 "go.yaml.in/yaml/v3"
)

// locator maps field paths of one document to lines in its file. The node
// tree is built lazily: most objects never need a line, and parsing every
// document twice would double load time. Safe for concurrent use.
type locator struct {
	doc    []byte
	offset int // lines before the document in its file
	first  int // file line of the document's first content line

	once sync.Once
	root *yamlv3.Node // the document's top-level node; nil when it failed to parse
}

func newLocator(doc []byte, offset int) *locator {
	return &locator{doc: doc, offset: offset, first: offset + firstContentLine(doc)}
}

// tree parses the document for line lookup only. It never fails: a document
// that the node parser cannot handle just yields document-level lines.
func (l *locator) tree() *yamlv3.Node {
	l.once.Do(func() {
		defer func() {
			// yaml.v3 is known to panic on some inputs ({{},<<}); the
			// locator is best effort, so a panic only costs precision.
			if recover() != nil {
				l.root = nil
			}
		}()
		var n yamlv3.Node
		if err := yamlv3.Unmarshal(l.doc, &n); err == nil && n.Kind == yamlv3.DocumentNode && len(n.Content) > 0 {
			l.root = n.Content[0]
		}
	})
	return l.root
}

// firstContentLine returns the 1-based line of the first line that is neither
// blank nor a comment, or 1.
func firstContentLine(doc []byte) int {
	for i, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") {
			return i + 1
		}
	}
	return 1
}

// segment is one step of a field path: a map key or a sequence index.
type segment struct {
	key   string
	index int // -1 for a key
}

// parsePath splits paths such as `spec.ports[0].targetPort` and
// `metadata.labels["istio.io/rev"]`. Unparseable tails are dropped, which only
// makes the lookup coarser.
func parsePath(p string) []segment {
	var segs []segment
	for p != "" {
		switch {
		case p[0] == '.':
			p = p[1:]
		case strings.HasPrefix(p, `["`):
			end := strings.Index(p, `"]`)
			if end < 0 {
				return segs
			}
			segs = append(segs, segment{key: p[2:end], index: -1})
			p = p[end+2:]
		case p[0] == '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return segs
			}
			i, err := strconv.Atoi(p[1:end])
			if err != nil {
				return segs
			}
			segs = append(segs, segment{index: i})
			p = p[end+1:]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			segs = append(segs, segment{key: p[:end], index: -1})
			p = p[end:]
		}
	}
	return segs
}

// match is a node found for a path; key is the mapping key node when the last
// segment was a key (its line is where the field is written).
type match struct {
	key, value *yamlv3.Node
	path       string // with indices, e.g. spec.ports[1].targetPort
}

func (m match) line() int {
	if m.key != nil {
		return m.key.Line
	}
	return m.value.Line
}

// lookup resolves path to candidate nodes. A key segment applied to a
// sequence fans out over its elements, because encoding/json type errors name
// paths without indices ("spec.ports.targetPort"). When the full path does not
// exist, the deepest existing prefix is returned with complete=false.
func (l *locator) lookup(path string) (found []match, complete bool) {
	root := l.tree()
	if root == nil {
		return nil, false
	}
	cur := []match{{value: root}}
	for _, seg := range parsePath(path) {
		var next []match
		for _, m := range cur {
			next = append(next, step(m.value, m.path, seg)...)
		}
		if len(next) == 0 {
			return cur, false
		}
		cur = next
	}
	return cur, true
}

func step(n *yamlv3.Node, path string, seg segment) []match {
	n = deref(n)
	switch {
	case seg.index >= 0 && n.Kind == yamlv3.SequenceNode:
		if seg.index < len(n.Content) {
			return []match{{value: n.Content[seg.index], path: path + "[" + strconv.Itoa(seg.index) + "]"}}
		}
	case seg.index < 0 && n.Kind == yamlv3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg.key {
				return []match{{key: n.Content[i], value: n.Content[i+1], path: joinKey(path, seg.key)}}
			}
		}
	case seg.index < 0 && n.Kind == yamlv3.SequenceNode:
		var out []match
		for i, el := range n.Content {
			out = append(out, step(el, path+"["+strconv.Itoa(i)+"]", seg)...)
		}
		return out
	}
	return nil
}

// joinKey appends a key to a path, quoting keys that are not plain words
// (label and annotation keys such as "istio.io/rev").
func joinKey(path, key string) string {
	if strings.ContainsAny(key, `./[]" `) || key == "" {
		return path + `["` + key + `"]`
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// deref follows one alias; alias chains are bounded by the YAML parser.
func deref(n *yamlv3.Node) *yamlv3.Node {
	if n.Kind == yamlv3.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// line returns the file line of path, preferring a candidate whose value has
// the given JSON type ("string", "number", "object", "array", "bool"; empty for
// any). It falls back to the deepest existing prefix, then to the document.
func (l *locator) line(path, jsonType string) int {
	line, _ := l.resolve(path, jsonType)
	return line
}

// resolve is line plus the indexed path of the chosen node when the full path
// exists (type errors name paths without indices); otherwise path unchanged.
func (l *locator) resolve(path, jsonType string) (int, string) {
	found, complete := l.lookup(path)
	if len(found) == 0 {
		return l.first, path
	}
	best := found[0]
	if complete && jsonType != "" {
		for _, m := range found {
			if yamlJSONType(deref(m.value)) == jsonType {
				best = m
				break
			}
		}
	}
	if best.value == l.root && best.key == nil {
		return l.first, path
	}
	if complete {
		path = best.path
	}
	return l.offset + best.line(), path
}

func yamlJSONType(n *yamlv3.Node) string {
	switch n.Kind {
	case yamlv3.MappingNode:
		return "object"
	case yamlv3.SequenceNode:
		return "array"
	case yamlv3.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float":
			return "number"
		case "!!bool":
			return "bool"
		case "!!null":
			return "null"
		}
		return "string"
	}
	return ""
}

// findKey searches the subtree at base (a path) for the first mapping key named
// name in document order and returns its full path and file line. Used for
// protojson errors, which name the field but not where it is. Aliases are not
// followed, so the walk is linear in the document size.
func (l *locator) findKey(base, name string) (path string, line int, ok bool) {
	found, complete := l.lookup(base)
	if !complete || len(found) == 0 {
		return "", 0, false
	}
	var walk func(n *yamlv3.Node, p string, depth int) bool
	walk = func(n *yamlv3.Node, p string, depth int) bool {
		if depth > 200 {
			return false
		}
		switch n.Kind {
		case yamlv3.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				kp := joinKey(p, k.Value)
				if k.Value == name {
					path, line = kp, l.offset+k.Line
					return true
				}
				if walk(n.Content[i+1], kp, depth+1) {
					return true
				}
			}
		case yamlv3.SequenceNode:
			for i, el := range n.Content {
				if walk(el, p+"["+strconv.Itoa(i)+"]", depth+1) {
					return true
				}
			}
		}
		return false
	}
	if walk(found[0].value, base, 0) {
		return path, line, true
	}
	return "", 0, false
}
