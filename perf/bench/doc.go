// Package bench holds the scenario-driven data-plane benchmarks, run by
// `make bench` through the real simulator: a cluster is brought up, the
// benchmark client (`ambientlab-workload loadgen`) is exec'd in a client pod,
// and every mesh configuration is measured side by side with a raw
// (uncaptured) pair in the same run, with configs interleaved inside each
// round and ratios taken within a round (docs/perf.md, perf-method.md §2).
//
// The non-test code is the pure part: paired per-round figures, their
// medians and ratios, and process CPU accounting from /proc. The cluster
// and the benchmarks themselves live in the _test.go files.
//
// It is not a regression gate (that is perf/gate's interleaved A/B); it
// reports where one build stands against the ratio goals.
package bench
