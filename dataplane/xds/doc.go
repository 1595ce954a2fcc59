// Package xds delivers workload API configuration to a proxy: the Source
// interface (the current workloadapi.Snapshot plus a stream of new ones) and
// three implementations — ADSClient (delta xDS over gRPC to istiod, as ztunnel
// `src/xds/client.rs`), FileSource (ztunnel's LOCAL_XDS_PATH YAML, strictly
// decoded) and PushSource (in memory, for tests).
//
// It converts nothing itself: every update goes through workloadapi.FromWire,
// and an update that fails conversion is rejected whole (NACKed over xDS) while
// the previous snapshot stays in force (reliability F10). ADSConfig.Extra adds
// other resource types to the same stream (the waypoint's configuration):
// the client keeps them raw and hands the full set to the type's Apply after
// each response; an Apply error is a NACK and nothing changes. It is not a server;
// sim/controlplane/xdsserver plays istiod.
package xds
