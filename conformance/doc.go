// Package conformance is the suite behind `make conformance`. It is black-box:
// it drives the simulator through sim/cluster and observes only what a user
// could (exec in pods, HTTP responses, DNS answers), so that other data planes
// can later be certified the same way. Today it holds the simulator smoke
// specs; the scenario-driven profiles (AMBIENT-L4, AMBIENT-L7, HBONE,
// SIDECAR-INTEROP, RESILIENCE) grow in the open issues.
package conformance
