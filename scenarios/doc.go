// Package scenarios is ambientlab's declarative scenario format: one
// multi-document YAML file holding real Kubernetes, Istio and Gateway API
// manifests plus exactly one `ambientlab.io/v1alpha1` Scenario document that
// declares the cluster shape, the profile and features exercised, the
// capabilities a backend must have, and ordered steps (apply, delete, exec,
// probe, matrix, wait).
//
// Loading is strict decode (package scenarios/manifest, with the Scenario kind
// registered here) → validation of every step against the file's own objects,
// as they evolve step by step → resolution into typed runtime structures
// (Resolved). Every problem is reported at once as file:line: field, and a
// file with any problem yields nothing, so a runner never creates anything
// for it.
//
// It is data plus schema only: it never imports sim, dataplane or
// conformance. The runner lives in conformance/runner.
package scenarios
