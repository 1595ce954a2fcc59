package render

import (
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"
)

// YAML writes doc as YAML with keys sorted, the form reports are submitted
// and diffed in. Upstream's report comes out byte for byte as upstream writes it.
func YAML(w io.Writer, doc Document) error {
	if err := doc.Validate(); err != nil {
		return fmt.Errorf("render YAML: %w", err)
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("render YAML: %w", err)
	}
	_, err = w.Write(b)
	return err
}

// JSON writes doc as indented JSON in field order, ending with a newline.
func JSON(w io.Writer, doc Document) error {
	if err := doc.Validate(); err != nil {
		return fmt.Errorf("render JSON: %w", err)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("render JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
