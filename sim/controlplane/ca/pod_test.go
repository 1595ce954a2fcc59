package ca

import (
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// podsByKey is an in-memory PodAuthorizer that tests mutate at run time.
type podsByKey struct {
	mu   sync.Mutex
	pods map[string]PodRef
}

func (p *podsByKey) CurrentPod(namespace, name string) (PodRef, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[namespace+"/"+name]
	return r, ok
}

func (p *podsByKey) set(r PodRef) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pods == nil {
		p.pods = map[string]PodRef{}
	}
	p.pods[r.Key()] = r
}

func (p *podsByKey) remove(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.pods, key)
}

func TestAuthorizePodReasons(t *testing.T) {
	pods := &podsByKey{}
	f := startServer(t, func(o *ServerOptions) { o.Pods = pods })
	wp := waypointPod
	pods.set(wp)
	other := mustID(t, "spiffe://cluster.local/ns/shop/sa/cart")
	replaced := wp
	replaced.UID = "uid-2"
	renamedSA := wp
	renamedSA.Identity.ServiceAccount = "someone-else"
	tests := []struct {
		name   string
		caller identity.Identity
		bound  PodRef
		req    string
		pods   func() // the cluster as it is at request time
		want   DenyReason
	}{
		{name: "own identity, no impersonation", caller: wp.Identity, bound: wp},
		{name: "own identity named in impersonation", caller: wp.Identity, bound: wp, req: wp.Identity.String()},
		{name: "other SA of the namespace", caller: wp.Identity, bound: wp, req: other.String(), want: DenyPodOtherIdentity},
		{name: "other namespace", caller: wp.Identity, bound: wp, req: "spiffe://cluster.local/ns/bank/sa/waypoint", want: DenyPodOtherIdentity},
		{name: "node account", caller: wp.Identity, bound: wp, req: f.ca.NodeAccount().String(), want: DenyPodOtherIdentity},
		{name: "malformed", caller: wp.Identity, bound: wp, req: "spiffe://cluster.local/ns/shop", want: DenyPodOtherIdentity},
		{name: "binding forgotten", caller: wp.Identity, bound: PodRef{}, want: DenyPodUnbound},
		{name: "deleted pod", caller: wp.Identity, bound: wp, pods: func() { pods.remove(wp.Key()) }, want: DenyPodNotInTopology},
		{name: "pod replaced under the same name", caller: wp.Identity, bound: wp, pods: func() { pods.set(replaced) }, want: DenyPodReplaced},
		{name: "pod's service account changed", caller: wp.Identity, bound: wp, pods: func() { pods.set(renamedSA) }, want: DenyPodAccountChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pods.set(wp)
			if tt.pods != nil {
				tt.pods()
			}
			got, err := f.srv.authorizePod(tt.caller, tt.bound, tt.req)
			var de *DenyError
			switch {
			case tt.want == "" && (err != nil || got != wp.Identity):
				t.Errorf("got %v %v, want %s", got, err, wp.Identity)
			case tt.want != "" && (!errors.As(err, &de) || de.Reason != tt.want || de.Pod != wp.Key() && tt.want != DenyPodUnbound):
				t.Errorf("err %v, want %s", err, tt.want)
			}
		})
	}
}

// TestPodCredentialOverGRPC drives a real CA server over TLS with a pod
// bootstrap credential: the pod gets its own SVID (whatever the CSR
// claims), is refused every other identity with PermissionDenied, and is
// refused everything once its pod is deleted and its binding forgotten,
// although the credential still verifies as an SVID.
func TestPodCredentialOverGRPC(t *testing.T) {
	pods := &podsByKey{}
	f := startServer(t, func(o *ServerOptions) { o.Pods = pods })
	pods.set(waypointPod)
	certPEM, keyPEM, err := f.ca.IssuePodBootstrap(waypointPod)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := identity.NewVerifier(f.ca.Bundle(), nil)
	newClient := func(impersonate bool) *identity.CAClient {
		c, err := identity.NewCAClient(identity.CAClientOptions{
			Address: f.addr, Verifier: v, Impersonate: impersonate, TTL: time.Hour,
			Credential: func() (*tls.Certificate, error) { return &cred, nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	own, asking := newClient(false), newClient(true)

	cert, err := own.Fetch(callCtx(t), waypointPod.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Identity != waypointPod.Identity || cert.Lifetime() != time.Hour || IsPodBootstrap(cert.Leaf) {
		t.Fatalf("issued %s for %s (pod bootstrap marker %v)", cert.Identity, cert.Lifetime(), IsPodBootstrap(cert.Leaf))
	}
	if _, err := asking.Fetch(callCtx(t), waypointPod.Identity); err != nil {
		t.Fatalf("own identity named in the metadata: %v", err)
	}
	cart := mustID(t, "spiffe://cluster.local/ns/shop/sa/cart")
	f.authz.set("node-1", cart, 1) // on a node: irrelevant to a pod credential
	if _, err := asking.Fetch(callCtx(t), cart); status.Code(errors.Unwrap(err)) != codes.PermissionDenied {
		t.Fatalf("pod credential asking for %s: %v, want PermissionDenied", cart, err)
	}

	raw := f.rawClient(t, &cred)
	csr, _ := csrFor(t, cart.String())
	resp, err := raw.CreateCertificate(callCtx(t), request(t, "", 3600, csr))
	if err != nil {
		t.Fatal(err)
	}
	chain, _ := identity.ParsePEMChain(resp.GetCertChain())
	if len(chain[0].URIs) != 1 || chain[0].URIs[0].String() != waypointPod.Identity.String() {
		t.Fatalf("CSR claiming %s got SAN %v, want %s", cart, chain[0].URIs, waypointPod.Identity)
	}

	// The pod is deleted: refused at once (the cluster says so), and still
	// refused once the binding is gone (the marker keeps it from passing
	// as an ordinary workload certificate renewing itself).
	pods.remove(waypointPod.Key())
	_, err = raw.CreateCertificate(callCtx(t), request(t, "", 3600, nil))
	if status.Code(err) != codes.PermissionDenied || !contains(err, string(DenyPodNotInTopology)) {
		t.Fatalf("deleted pod: %v, want PermissionDenied (%s)", err, DenyPodNotInTopology)
	}
	if err := f.ca.ForgetPod(waypointPod.Namespace, waypointPod.Name); err != nil {
		t.Fatal(err)
	}
	pods.set(waypointPod)
	_, err = raw.CreateCertificate(callCtx(t), request(t, "", 3600, nil))
	if status.Code(err) != codes.PermissionDenied || !contains(err, string(DenyPodUnbound)) {
		t.Fatalf("forgotten binding: %v, want PermissionDenied (%s)", err, DenyPodUnbound)
	}
}

// TestPodCredentialWithoutPodAuthorizer: a server not told about pods
// refuses pod credentials rather than trusting them.
func TestPodCredentialWithoutPodAuthorizer(t *testing.T) {
	f := startServer(t, nil)
	cred, err := tls.X509KeyPair(leafPair(t, f.ca))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.rawClient(t, &cred).CreateCertificate(callCtx(t), request(t, "", 3600, nil))
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("pod credential without a PodAuthorizer: %v", err)
	}
}

func leafPair(t *testing.T, c *CA) ([]byte, []byte) {
	t.Helper()
	certPEM, keyPEM, err := c.IssuePodBootstrap(waypointPod)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

func TestIssuePodBootstrapValidatesThePod(t *testing.T) {
	c := mustCA(t, nil)
	bad := []PodRef{
		{Namespace: "shop", Name: "", Identity: waypointPod.Identity},
		{Namespace: "shop", Name: "a/b", Identity: waypointPod.Identity},
		{Namespace: "bank", Name: "w", Identity: waypointPod.Identity}, // identity of another namespace
		{Namespace: "shop", Name: "w", Identity: identity.Identity{TrustDomain: "other.td", Namespace: "shop", ServiceAccount: "w"}},
		{Namespace: "shop", Name: "w"},
	}
	for _, p := range bad {
		if _, _, err := c.IssuePodBootstrap(p); err == nil {
			t.Errorf("IssuePodBootstrap(%+v) accepted", p)
		}
	}
}
