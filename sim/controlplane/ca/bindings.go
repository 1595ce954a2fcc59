package ca

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// bindingsVersion is the version of the bindings file format.
const bindingsVersion = 1

// bindingsFile is the JSON form of BindingsFile.
type bindingsFile struct {
	Version  int           `json:"version"`
	Bindings []bindingJSON `json:"bindings"`
}

type bindingJSON struct {
	Serial   string    `json:"serial"` // lower-case hex, as serialKey
	NotAfter time.Time `json:"not_after"`
	Node     string    `json:"node,omitempty"`
	Pod      *podJSON  `json:"pod,omitempty"`
}

type podJSON struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid,omitempty"`
	Identity  string `json:"identity"`
}

// encodeBindings renders b sorted by serial, so equal maps give equal files.
func encodeBindings(b map[string]Binding) ([]byte, error) {
	f := bindingsFile{Version: bindingsVersion, Bindings: []bindingJSON{}}
	for serial, bd := range b {
		j := bindingJSON{Serial: serial, NotAfter: bd.NotAfter.UTC(), Node: bd.Node}
		if !bd.Pod.isZero() {
			j.Pod = &podJSON{Namespace: bd.Pod.Namespace, Name: bd.Pod.Name, UID: bd.Pod.UID, Identity: bd.Pod.Identity.String()}
		}
		f.Bindings = append(f.Bindings, j)
	}
	sort.Slice(f.Bindings, func(i, j int) bool { return f.Bindings[i].Serial < f.Bindings[j].Serial })
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// parseBindings strictly decodes a bindings file for c: known fields only,
// one JSON value, this version, each serial once, each binding either a
// valid node or a valid pod of c's trust domain. Errors name the field.
func parseBindings(raw []byte, c *CA) (map[string]Binding, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var f bindingsFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON object")
	}
	if f.Version != bindingsVersion {
		return nil, fmt.Errorf("version: %d, want %d", f.Version, bindingsVersion)
	}
	out := make(map[string]Binding, len(f.Bindings))
	for i, j := range f.Bindings {
		at := func(field string, err error) error { return fmt.Errorf("bindings[%d].%s: %w", i, field, err) }
		if err := validSerial(j.Serial); err != nil {
			return nil, at("serial", err)
		}
		if _, dup := out[j.Serial]; dup {
			return nil, at("serial", fmt.Errorf("%q appears twice", j.Serial))
		}
		if j.NotAfter.IsZero() {
			return nil, at("not_after", errors.New("missing"))
		}
		b := Binding{Node: j.Node, NotAfter: j.NotAfter}
		switch {
		case j.Node != "" && j.Pod != nil:
			return nil, at("node", errors.New("a binding has either node or pod, not both"))
		case j.Node != "":
			if err := validNodeName(j.Node); err != nil {
				return nil, at("node", err)
			}
		case j.Pod != nil:
			id, err := identity.Parse(j.Pod.Identity)
			if err != nil {
				return nil, at("pod.identity", err)
			}
			b.Pod = PodRef{Namespace: j.Pod.Namespace, Name: j.Pod.Name, UID: j.Pod.UID, Identity: id}
			if err := c.validPodRef(b.Pod); err != nil {
				return nil, at("pod", err)
			}
		default:
			return nil, at("node", errors.New("a binding needs node or pod"))
		}
		out[j.Serial] = b
	}
	return out, nil
}

// validSerial accepts what serialKey produces: lower-case hex of at most
// 20 bytes (RFC 5280's limit), no leading zero byte.
func validSerial(s string) error {
	b, err := hex.DecodeString(s)
	switch {
	case err != nil:
		return err
	case len(b) == 0 || len(b) > 20:
		return fmt.Errorf("%q: want 1 to 20 bytes of hex", s)
	case b[0] == 0 || hex.EncodeToString(b) != s:
		return fmt.Errorf("%q: not in canonical form", s)
	}
	return nil
}
