package v1

import (
	"errors"
	"fmt"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// maxReportBytes bounds what Decode reads; a real report is a few hundred KiB.
const maxReportBytes = 64 << 20

// Decode parses an ambientlab ConformanceReport from YAML or JSON strictly
// and validates it. Strict means what Kubernetes' strict decoding means:
// unknown and duplicate fields are errors and keys match case-sensitively, so
// "passed" is not taken for upstream's "Passed".
func Decode(data []byte) (*ConformanceReport, error) {
	var r ConformanceReport
	if err := decodeStrict(data, &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("invalid ConformanceReport: %w", err)
	}
	return &r, nil
}

// DecodeGatewayAPI parses and validates an upstream Gateway API
// ConformanceReport the same way.
func DecodeGatewayAPI(data []byte) (*GatewayAPIConformanceReport, error) {
	var r GatewayAPIConformanceReport
	if err := decodeStrict(data, &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("invalid Gateway API ConformanceReport: %w", err)
	}
	return &r, nil
}

func decodeStrict(data []byte, into any) error {
	if len(data) > maxReportBytes {
		return fmt.Errorf("report is %d bytes; the limit is %d", len(data), maxReportBytes)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return fmt.Errorf("decode report: %w", err)
	}
	strictErrs, err := sigsjson.UnmarshalStrict(js, into)
	if err != nil {
		return fmt.Errorf("decode report: %w", err)
	}
	if len(strictErrs) > 0 {
		return fmt.Errorf("decode report: %w", errors.Join(strictErrs...))
	}
	return nil
}
