package istiod

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/dataplane/ztunnel/app"
	"github.com/ambientlab/ambientlab/sim/controlplane/ca"
	"github.com/ambientlab/ambientlab/sim/topology"
)

var ambientNS = map[string]string{"istio.io/dataplane-mode": "ambient"}

func waypointPodOn(node string, labels map[string]string) topology.Pod {
	l := map[string]string{componentLabel: componentWaypoint, gatewayNameLabel: "waypoint"}
	for k, v := range labels {
		l[k] = v
	}
	return topology.Pod{Namespace: "shop", Name: "waypoint-7c9d", UID: "uid-1", Node: node, ServiceAccount: "waypoint", Labels: l}
}

func shopCluster(pods ...topology.Pod) *topology.Cluster {
	return &topology.Cluster{TrustDomain: "cluster.local", Nodes: []topology.Node{{Name: "node-0"}, {Name: "node-1"}},
		Namespaces: []topology.Namespace{{Name: "shop", Labels: ambientNS}}, Pods: pods}
}

func shopID(sa string) identity.Identity {
	return identity.Identity{TrustDomain: "cluster.local", Namespace: "shop", ServiceAccount: sa}
}

// TestNodeMayNotTakeAnUncapturedWaypointsIdentity: the node rule for a
// waypoint on the node, captured or not, and for pods sharing its SA.
func TestNodeMayNotTakeAnUncapturedWaypointsIdentity(t *testing.T) {
	optOut := map[string]string{"istio.io/dataplane-mode": "none"}
	cart := topology.Pod{Namespace: "shop", Name: "cart", Node: "node-0", ServiceAccount: "cart"}
	sharing := topology.Pod{Namespace: "shop", Name: "shares-sa", Node: "node-1", ServiceAccount: "waypoint"}
	tests := []struct {
		name    string
		pods    []topology.Pod
		node    string
		id      identity.Identity
		granted bool
	}{
		{"waypoint opted out of capture (as deployed)", []topology.Pod{waypointPodOn("node-0", optOut), cart}, "node-0", shopID("waypoint"), false},
		{"waypoint captured", []topology.Pod{waypointPodOn("node-0", nil), cart}, "node-0", shopID("waypoint"), true},
		{"ordinary pod beside the waypoint", []topology.Pod{waypointPodOn("node-0", optOut), cart}, "node-0", shopID("cart"), true},
		{"captured pod sharing the waypoint's SA, on its node", []topology.Pod{waypointPodOn("node-0", optOut), sharing}, "node-1", shopID("waypoint"), true},
		{"captured pod sharing the waypoint's SA, other node", []topology.Pod{waypointPodOn("node-0", optOut), sharing}, "node-0", shopID("waypoint"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPodIdentities(shopCluster(tt.pods...))
			if got := p.IdentityOnNode(tt.node, tt.id); got != tt.granted {
				t.Errorf("IdentityOnNode(%s, %s) = %v, want %v", tt.node, tt.id, got, tt.granted)
			}
		})
	}
}

func TestBootstrapFileNamesAgree(t *testing.T) {
	if identity.BootstrapCertFile != app.BootstrapCertFile || identity.BootstrapKeyFile != app.BootstrapKeyFile || identity.BootstrapRootFile != app.BootstrapRootFile {
		t.Fatal("identity and ztunnel app disagree on the bootstrap file names")
	}
}

// caProcess is one istiod lifetime's CA: ca.Open on the layout, the pod
// index, node and pod credentials written, a gRPC server on loopback.
type caProcess struct {
	authority *ca.CA
	ids       *podIdentities
	creds     *podCredentials
	addr      string
	stop      func()
}

func startCA(t *testing.T, lay Layout, c *topology.Cluster) *caProcess {
	t.Helper()
	return startCAWith(t, lay, c, ca.DefaultOptions())
}

func startCAWith(t *testing.T, lay Layout, c *topology.Cluster, opts ca.Options) *caProcess {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	authority, err := ca.Open(opts, lay.CADir())
	if err != nil {
		t.Fatal(err)
	}
	p := &caProcess{authority: authority, ids: newPodIdentities(c), creds: &podCredentials{lay: lay, authority: authority, log: log}}
	if err := ensureNodeBootstraps(lay, authority, c, log, time.Now()); err != nil {
		t.Fatal(err)
	}
	if failed := p.creds.sync(c, time.Now()); failed != 0 {
		t.Fatalf("%d pod credentials failed", failed)
	}
	srvOpts := ca.DefaultServerOptions(authority, p.ids)
	srvOpts.Pods = p.ids
	srv, err := ca.NewServer(srvOpts)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	p.addr = lis.Addr().String()
	var once sync.Once // stopped by the test (a restart) and again by Cleanup
	p.stop = func() {
		once.Do(func() {
			srv.Stop()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(p.stop)
	return p
}

func (p *caProcess) apply(t *testing.T, c *topology.Cluster) {
	t.Helper()
	p.ids.update(c)
	if failed := p.creds.sync(c, time.Now()); failed != 0 {
		t.Fatalf("%d pod credentials failed", failed)
	}
}

// fetch asks the CA at addr for id with the credential in dir.
func fetch(t *testing.T, addr, dir string, impersonate bool, id identity.Identity) error {
	t.Helper()
	return fetchTTL(t, addr, dir, impersonate, id, 0)
}

// fetchTTL is fetch asking for a validity of ttl (0: the client's default).
func fetchTTL(t *testing.T, addr, dir string, impersonate bool, id identity.Identity, ttl time.Duration) error {
	t.Helper()
	boot, err := identity.LoadBootstrap(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := boot.CAClientOptions(addr)
	opts.Impersonate, opts.CallTimeout, opts.TTL = impersonate, 5*time.Second, ttl
	client, err := identity.NewCAClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cert, err := client.Fetch(ctx, id)
	if err == nil && cert.Identity != id {
		t.Fatalf("asked for %s, got %s", id, cert.Identity)
	}
	return err
}

func codeOf(err error) codes.Code { return status.Code(errors.Unwrap(err)) }

// TestWaypointCredentialAcrossRestart: istiod writes a waypoint's pod-bound
// credential; with it the waypoint gets its own SVID and nothing else, the
// node's ztunnel does not get the waypoint's identity; a second CA
// lifetime on the same state keeps root and files and still honours both
// credentials; deleting the pod removes the credential and unbinds it.
func TestWaypointCredentialAcrossRestart(t *testing.T) {
	lay := Layout{Dir: t.TempDir()}
	wp := waypointPodOn("node-0", map[string]string{"istio.io/dataplane-mode": "none"})
	cart := topology.Pod{Namespace: "shop", Name: "cart", UID: "uid-c", Node: "node-0", ServiceAccount: "cart"}
	cluster := shopCluster(wp, cart)
	podDir, nodeDir := lay.PodBootstrapDir("shop", wp.Name), lay.BootstrapDir("node-0")

	first := startCA(t, lay, cluster)
	boot, err := identity.LoadBootstrap(podDir)
	if err != nil {
		t.Fatal(err)
	}
	if boot.Identity != shopID("waypoint") {
		t.Fatalf("pod credential names %s", boot.Identity)
	}
	if err := fetch(t, first.addr, podDir, false, shopID("waypoint")); err != nil {
		t.Fatalf("waypoint fetching its own identity: %v", err)
	}
	if err := fetch(t, first.addr, podDir, true, shopID("cart")); codeOf(err) != codes.PermissionDenied {
		t.Fatalf("waypoint asking for cart: %v, want PermissionDenied", err)
	}
	if err := fetch(t, first.addr, nodeDir, true, shopID("waypoint")); codeOf(err) != codes.Unauthenticated {
		t.Fatalf("node-0's ztunnel asking for the uncaptured waypoint: %v, want Unauthenticated", err)
	}
	if err := fetch(t, first.addr, nodeDir, true, shopID("cart")); err != nil {
		t.Fatalf("node-0's ztunnel asking for cart: %v", err)
	}
	before := map[string][]byte{}
	for _, d := range []string{podDir, nodeDir} {
		before[d], _ = os.ReadFile(filepath.Join(d, bootstrapCert))
	}
	first.stop()

	second := startCA(t, lay, cluster)
	for d, old := range before {
		if now, _ := os.ReadFile(filepath.Join(d, bootstrapCert)); string(now) != string(old) {
			t.Errorf("restart reissued the credential in %s", d)
		}
	}
	if err := fetch(t, second.addr, podDir, false, shopID("waypoint")); err != nil {
		t.Fatalf("after restart, waypoint fetching its own identity: %v", err)
	}
	if err := fetch(t, second.addr, nodeDir, true, shopID("cart")); err != nil {
		t.Fatalf("after restart, node-0's ztunnel asking for cart: %v", err)
	}

	// The pod is deleted: unbound, files gone; the credential a process
	// still holds in memory is refused.
	held, _ := identity.LoadBootstrap(podDir)
	second.apply(t, shopCluster(cart))
	if _, err := os.Stat(podDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pod credential dir after deletion: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(podDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty namespace dir left behind: %v", err)
	}
	if got := second.authority.BoundPods(); len(got) != 0 {
		t.Errorf("bindings left after deletion: %+v", got)
	}
	opts := held.CAClientOptions(second.addr)
	client, err := identity.NewCAClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.Fetch(ctx, shopID("waypoint")); codeOf(err) != codes.PermissionDenied {
		t.Fatalf("credential of a deleted pod: %v, want PermissionDenied", err)
	}
}

// TestPodCredentialsFollowThePod: a recreated pod (new UID) gets a new
// credential and the old one stops working; an orphaned directory is
// removed; a pod that stops being a waypoint loses its credential.
func TestPodCredentialsFollowThePod(t *testing.T) {
	lay := Layout{Dir: t.TempDir()}
	wp := waypointPodOn("node-0", nil)
	p := startCA(t, lay, shopCluster(wp))
	dir := lay.PodBootstrapDir("shop", wp.Name)
	old, err := identity.LoadBootstrap(dir)
	if err != nil {
		t.Fatal(err)
	}
	recreated := wp
	recreated.UID = "uid-2"
	p.apply(t, shopCluster(recreated))
	fresh, err := identity.LoadBootstrap(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Credential.Leaf.SerialNumber.Cmp(old.Credential.Leaf.SerialNumber) == 0 {
		t.Fatal("a recreated pod kept the old pod's credential")
	}
	if _, ok := p.authority.PodOf(old.Credential.Leaf); ok {
		t.Error("the old pod's credential is still bound")
	}
	if b, ok := p.authority.PodOf(fresh.Credential.Leaf); !ok || b.UID != "uid-2" {
		t.Errorf("new credential bound to %+v %v", b, ok)
	}

	orphan := lay.PodBootstrapDir("gone", "pod")
	if err := os.MkdirAll(orphan, 0o700); err != nil {
		t.Fatal(err)
	}
	plain := recreated
	plain.Labels = map[string]string{}
	p.apply(t, shopCluster(plain))
	for _, d := range []string{orphan, dir} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there: %v", d, err)
		}
	}
}
