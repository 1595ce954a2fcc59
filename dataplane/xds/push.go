package xds

import (
	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"

	state "github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// PushSource is an in-memory Source for tests: each Push is a full state of
// the world, converted like an xDS update. A rejected Push (the analogue of a
// NACK) returns the error and leaves the current snapshot in force.
type PushSource struct{ *broadcaster }

var _ Source = (*PushSource)(nil)

// NewPushSource returns an unsynced PushSource.
func NewPushSource() *PushSource { return &PushSource{newBroadcaster()} }

// Push converts and publishes wire resources.
func (p *PushSource) Push(addresses []*workloadapi.Address, auths []*security.Authorization) (*state.Snapshot, error) {
	s, err := state.FromWire(addresses, auths)
	if err != nil {
		return nil, err
	}
	p.publish(s)
	return s, nil
}

// Set publishes a snapshot built directly (state.New).
func (p *PushSource) Set(s *state.Snapshot) { p.publish(s) }
