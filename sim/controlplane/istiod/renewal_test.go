package istiod

import (
	"bytes"
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/ambientlab/ambientlab/dataplane/identity"
	"github.com/ambientlab/ambientlab/sim/controlplane/ca"
	"github.com/ambientlab/ambientlab/sim/topology"
)

// TestBootstrapRenewalKeepsProxiesReachingTheCA: with bootstrap
// credentials that live 4 s (24 h in a cluster), istiod keeps a node's
// credential before half life and renews it after; one long-lived CA
// client — as a ztunnel holds — switches to the renewed credential and a
// new connection on its own, and still gets certificates after the first
// credential has expired, when a client stuck with it is refused. A
// waypoint's pod-bound credential is renewed without unbinding the old one.
func TestBootstrapRenewalKeepsProxiesReachingTheCA(t *testing.T) {
	const ttl = 4 * time.Second
	lay := Layout{Dir: t.TempDir()}
	wp := waypointPodOn("node-0", map[string]string{"istio.io/dataplane-mode": "none"})
	cart := topology.Pod{Namespace: "shop", Name: "cart", UID: "uid-c", Node: "node-0", ServiceAccount: "cart"}
	cluster := shopCluster(wp, cart)
	opts := ca.DefaultOptions()
	opts.DefaultTTL, opts.MaxTTL = ttl, ttl
	p := startCAWith(t, lay, cluster, opts)
	nodeDir, podDir := lay.BootstrapDir("node-0"), lay.PodBootstrapDir("shop", wp.Name)
	log := p.creds.log

	boot, err := identity.LoadBootstrap(nodeDir)
	if err != nil {
		t.Fatal(err)
	}
	first := boot.Credential
	newClient := func(o identity.CAClientOptions) *identity.CAClient {
		o.Impersonate, o.TTL, o.CallTimeout = true, ttl, 3*time.Second
		c, err := identity.NewCAClient(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	ztunnel := newClient(boot.CAClientOptions(p.addr))
	stuck := newClient(identity.CAClientOptions{Address: p.addr, Verifier: boot.Verifier,
		Credential: func() (*tls.Certificate, error) { return &first, nil }})
	fetchCart := func(c *identity.CAClient) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := c.Fetch(ctx, shopID("cart"))
		return err
	}
	if err := fetchCart(ztunnel); err != nil {
		t.Fatalf("first fetch: %v", err)
	}
	read := func(dir string) []byte { b, _ := os.ReadFile(filepath.Join(dir, bootstrapCert)); return b }
	nodeBefore, podBefore := read(nodeDir), read(podDir)
	oldPod := t.TempDir() // the waypoint's copy of its first credential
	for _, f := range []string{bootstrapCert, bootstrapKey, bootstrapRoot} {
		b, _ := os.ReadFile(filepath.Join(podDir, f))
		if err := os.WriteFile(filepath.Join(oldPod, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	renew := func() {
		t.Helper()
		if err := ensureNodeBootstraps(lay, p.authority, cluster, log, time.Now()); err != nil {
			t.Fatal(err)
		}
		if failed := p.creds.sync(cluster, time.Now()); failed != 0 {
			t.Fatalf("%d pod credentials failed", failed)
		}
	}
	renew()
	if !bytes.Equal(read(nodeDir), nodeBefore) || !bytes.Equal(read(podDir), podBefore) {
		t.Fatal("a credential was reissued before half its lifetime")
	}
	leaf := first.Leaf
	time.Sleep(time.Until(leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore)/2 + 100*time.Millisecond)))
	renew()
	if bytes.Equal(read(nodeDir), nodeBefore) || bytes.Equal(read(podDir), podBefore) {
		t.Fatal("past half life the node and pod credentials were not renewed")
	}
	if err := fetchTTL(t, p.addr, oldPod, false, shopID("waypoint"), ttl); err != nil {
		t.Fatalf("the waypoint's first credential stopped working before its expiry: %v", err)
	}
	if err := fetchCart(ztunnel); err != nil {
		t.Fatalf("fetch after the renewal: %v", err)
	}

	time.Sleep(time.Until(leaf.NotAfter.Add(1100 * time.Millisecond))) // the first credential has expired
	if err := fetchCart(stuck); codeOf(err) != codes.Unauthenticated {
		t.Fatalf("a client stuck with the expired credential: %v, want Unauthenticated", err)
	}
	if err := fetchCart(ztunnel); err != nil {
		t.Fatalf("the long-lived client after the first credential expired: %v", err)
	}
	if err := fetchTTL(t, p.addr, podDir, false, shopID("waypoint"), ttl); err != nil {
		t.Fatalf("the waypoint's renewed credential: %v", err)
	}
}
