// Package manifest loads multi-document Kubernetes, Istio and Gateway API YAML
// strictly (conventions.md §4): one runtime.Scheme and the apimachinery strict
// codec, a second strict protojson pass over Istio specs (a typo'd `acton:
// DENY` is an error, never an allow-all), then Validate, which reports every
// problem at once with file, line and field.
//
// It is not the cluster model: sim/topology resolves a validated Set into
// pods, addresses and endpoints. It never imports sim or dataplane. Warnings
// (deprecated apiVersions, kinds accepted but not yet enforced, Services that
// select nothing) are returned as data and never printed.
//
// Further kinds, such as ambientlab.io/v1alpha1 Scenario, plug in through
// Register with their own strict Decoder.
package manifest
