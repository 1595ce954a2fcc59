package app

import (
	"context"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// A node's bootstrap directory has the same three files as a waypoint's
// pod-bound one, written by the control plane (istiod) before the node's
// ztunnel starts; identity owns their format and loading.
const (
	BootstrapCertFile = identity.BootstrapCertFile // node-account client certificate chain
	BootstrapKeyFile  = identity.BootstrapKeyFile  // its PKCS#8 key
	BootstrapRootFile = identity.BootstrapRootFile // the mesh root bundle
)

// Bootstrap is a node's credentials: the certificate it presents to the CA
// and the mesh roots every peer and the CA are verified against.
type Bootstrap = identity.Bootstrap

// LoadBootstrap reads dir (identity.LoadBootstrap).
func LoadBootstrap(dir string) (*Bootstrap, error) { return identity.LoadBootstrap(dir) }

// WaitBootstrap polls dir until it loads or wait passes
// (identity.WaitBootstrap).
func WaitBootstrap(ctx context.Context, dir string, wait time.Duration) (*Bootstrap, error) {
	return identity.WaitBootstrap(ctx, dir, wait)
}
