// Package xds delivers workload API configuration to a proxy: the Source
// interface (the current workloadapi.Snapshot plus a stream of new ones) and
// three implementations — ADSClient (delta xDS over gRPC to istiod, as ztunnel
// `src/xds/client.rs`), FileSource (ztunnel's LOCAL_XDS_PATH YAML, strictly
// decoded) and PushSource (in memory, for tests).
//
// It converts nothing itself: every update goes through workloadapi.FromWire,
// and an update that fails conversion is rejected whole (NACKed over xDS) while
// the previous snapshot stays in force (reliability F10). It is not a server;
// sim/controlplane/xdsserver plays istiod.
package xds
