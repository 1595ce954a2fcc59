// Package app composes one ztunnel process out of the reference data-plane
// libraries: bootstrap credentials (the node's analogue of a projected
// service-account token) → identity.CAClient + Manager (pod SVIDs by
// impersonation) → xds.ADSClient feeding Proxy.UpdateState → inpod.Client
// (ZDS) handing each captured pod's sockets to Proxy.ServePod → admin,
// metrics and readiness endpoints in ztunnel's own network namespace.
//
// Run is what `ambientlab ztunnel` executes inside the istio-system/ztunnel-<node>
// pod. It reports readiness (Config.OnReady) once the first xDS state and the
// first ZDS snapshot have both arrived, as ztunnel does, and drains on
// context cancellation (SIGTERM).
package app
