package istiod

import "github.com/ambientlab/ambientlab/dataplane/ztunnel/app"

// The bootstrap files are named by their reader, the ztunnel process.
const (
	bootstrapCert = app.BootstrapCertFile
	bootstrapKey  = app.BootstrapKeyFile
	bootstrapRoot = app.BootstrapRootFile
)
