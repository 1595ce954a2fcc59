// Package zds is the wire of ZDS, the protocol between istio's CNI node agent
// and ztunnel (istio pkg/zdsapi/zds.proto, package istio.workload.zds). It is
// wire only: framing, validation and a message-level connection; neither side's
// state machine lives here.
//
// Framing, as both upstream ends do it (istio cni/pkg/nodeagent/
// ztunnelserver_linux.go, ztunnel src/inpod/protocol.rs):
//
//   - a SOCK_SEQPACKET unix socket ("unixpacket"); the node agent listens,
//     ztunnel connects;
//   - one protobuf message per packet, at most MaxMessageSize bytes (both ends
//     read into a 1024-byte buffer and reject MSG_TRUNC / MSG_CTRUNC);
//   - ztunnel speaks first with ZdsHello{version: V1};
//   - the agent sends WorkloadRequest (add, keep, del, snapshot_sent) one at a
//     time and ztunnel answers each with WorkloadResponse{ack{error}}, an empty
//     error meaning success; acks correlate with requests only by order;
//   - AddWorkload carries exactly one file descriptor, the pod's network
//     namespace, as SCM_RIGHTS; every other message carries none;
//   - a zero-length read is the peer closing the connection.
package zds
