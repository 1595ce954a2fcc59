package zds

import (
	"fmt"

	"istio.io/istio/pkg/zdsapi"
)

// Kind is the payload type of a WorkloadRequest.
type Kind uint8

const (
	KindInvalid      Kind = iota // no payload
	KindAdd                      // AddWorkload, carries the netns fd
	KindKeep                     // KeepWorkload: keep a pod whose netns the agent lost (snapshot only)
	KindDel                      // DelWorkload
	KindSnapshotSent             // SnapshotSent: the replay is complete
)

var kindNames = [...]string{
	KindInvalid:      "invalid",
	KindAdd:          "add",
	KindKeep:         "keep",
	KindDel:          "del",
	KindSnapshotSent: "snapshot_sent",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind is the inverse of Kind.String (the oneof field names of zds.proto).
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name == s && Kind(k) != KindInvalid {
			return Kind(k), nil
		}
	}
	return KindInvalid, fmt.Errorf("zds: unknown request kind %q", s)
}

// KindOf returns the payload type of req.
func KindOf(req *zdsapi.WorkloadRequest) Kind {
	switch req.GetPayload().(type) {
	case *zdsapi.WorkloadRequest_Add:
		return KindAdd
	case *zdsapi.WorkloadRequest_Keep:
		return KindKeep
	case *zdsapi.WorkloadRequest_Del:
		return KindDel
	case *zdsapi.WorkloadRequest_SnapshotSent:
		return KindSnapshotSent
	default:
		return KindInvalid
	}
}

// UID returns the workload uid an add, keep or del request names ("" for
// the others).
func UID(req *zdsapi.WorkloadRequest) string {
	switch p := req.GetPayload().(type) {
	case *zdsapi.WorkloadRequest_Add:
		return p.Add.GetUid()
	case *zdsapi.WorkloadRequest_Keep:
		return p.Keep.GetUid()
	case *zdsapi.WorkloadRequest_Del:
		return p.Del.GetUid()
	default:
		return ""
	}
}

// Add builds an AddWorkload request; the netns fd travels beside it.
func Add(uid string, info *zdsapi.WorkloadInfo) *zdsapi.WorkloadRequest {
	return &zdsapi.WorkloadRequest{Payload: &zdsapi.WorkloadRequest_Add{Add: &zdsapi.AddWorkload{Uid: uid, WorkloadInfo: info}}}
}

// Keep builds a KeepWorkload request.
func Keep(uid string) *zdsapi.WorkloadRequest {
	return &zdsapi.WorkloadRequest{Payload: &zdsapi.WorkloadRequest_Keep{Keep: &zdsapi.KeepWorkload{Uid: uid}}}
}

// Del builds a DelWorkload request.
func Del(uid string) *zdsapi.WorkloadRequest {
	return &zdsapi.WorkloadRequest{Payload: &zdsapi.WorkloadRequest_Del{Del: &zdsapi.DelWorkload{Uid: uid}}}
}

// SnapshotSent builds a SnapshotSent request.
func SnapshotSent() *zdsapi.WorkloadRequest {
	return &zdsapi.WorkloadRequest{Payload: &zdsapi.WorkloadRequest_SnapshotSent{SnapshotSent: &zdsapi.SnapshotSent{}}}
}
