// Package ztunnel is the reference node proxy of ambient mode: per captured
// pod, an outbound listener (:15001), an HBONE inbound listener (:15008) and
// a plaintext inbound listener (:15006), all opened inside the pod's network
// namespace by the caller (dataplane/ztunnel/inpod) and handed to
// Proxy.ServePod, plus the node-level metrics, readiness and admin endpoints.
//
// Decisions are pure functions with table tests: Plan (route.go, ztunnel
// src/proxy/outbound.rs build_request) picks where an outbound connection
// goes, and policy.Snapshot.Decide authorizes inbound ones. Everything else
// is socket I/O around them: hbone for the wire, identity for certificates,
// sockets for SO_MARK / netns / transparent dials, lifecycle for draining.
//
// It is not an xDS client, a CA client or a ZDS server: state arrives through
// Proxy.UpdateState, certificates through the Config's CertificateSource,
// pods through ServePod.
package ztunnel
