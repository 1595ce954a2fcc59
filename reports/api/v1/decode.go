package v1

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

// maxReportBytes bounds what Decode reads; a real report is a few hundred KiB.
const maxReportBytes = 64 << 20

// Decode parses an ambientlab ConformanceReport from YAML or JSON strictly
// (unknown or duplicate fields are errors) and validates it.
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
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		return fmt.Errorf("decode report: %w", err)
	}
	return nil
}
