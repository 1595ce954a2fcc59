package nodeagent

import (
	"errors"
	"fmt"

	"github.com/ambientlab/ambientlab/dataplane/ztunnel/inpod/zds"
)

var (
	// ErrNotConnected: no ztunnel is connected; the pod stays cached and
	// reaches ztunnel in the snapshot when it connects.
	ErrNotConnected = errors.New("nodeagent: no ztunnel connected")
	// ErrDisconnected: the ztunnel connection ended before the request was
	// acknowledged.
	ErrDisconnected = errors.New("nodeagent: ztunnel disconnected")
	// ErrClosed: the server is closed.
	ErrClosed = errors.New("nodeagent: server closed")
)

// AckError is a NACK: ztunnel answered a request with an error.
type AckError struct {
	Kind    zds.Kind
	UID     string
	Message string
}

func (e *AckError) Error() string {
	return fmt.Sprintf("nodeagent: ztunnel NACKed %s %s: %s", e.Kind, e.UID, e.Message)
}

// AckTimeoutError: ztunnel did not answer within the ack timeout. The agent
// drops that connection, since a late ack would otherwise be taken as the
// answer to the next request (acks correlate only by order); ztunnel
// reconnects and gets a full replay.
type AckTimeoutError struct {
	Kind zds.Kind
	UID  string
}

func (e *AckTimeoutError) Error() string {
	return fmt.Sprintf("nodeagent: no ack from ztunnel for %s %s", e.Kind, e.UID)
}

// PartialAddError: the pod's redirection rules are in place but ztunnel has
// not confirmed the pod (istio's ErrPartialAdd). The pod stays cached and is
// replayed to the next ztunnel connection; traffic fails closed meanwhile.
type PartialAddError struct {
	UID string
	Err error
}

func (e *PartialAddError) Error() string {
	return fmt.Sprintf("nodeagent: pod %s partially added (rules applied, not in ztunnel): %v", e.UID, e.Err)
}

func (e *PartialAddError) Unwrap() error { return e.Err }
