package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// Node proxies run as this service account (istio's trusted node account
// default, CA_TRUSTED_NODE_ACCOUNTS=istio-system/ztunnel).
const (
	NodeAccountNamespace = "istio-system"
	NodeAccountName      = "ztunnel"
)

// podBootstrapOU marks a pod bootstrap certificate (Subject OU). Only this
// CA can sign a certificate that verifies against its roots, so the marker
// cannot be forged; it lets the server refuse a pod credential whose
// binding is gone instead of treating it as an ordinary workload SVID.
const podBootstrapOU = "ambientlab pod bootstrap"

// Binding is what one bootstrap certificate is bound to: a node (a
// ztunnel's credential) or a pod (a waypoint's). Exactly one of Node and
// Pod is set. NotAfter is the certificate's; expired bindings are dropped.
type Binding struct {
	Node     string
	Pod      PodRef
	NotAfter time.Time
}

// PodRef names a pod and the one identity its credential may obtain. UID,
// when set, must match the pod's current UID: a pod deleted and created
// again under the same name is another pod.
type PodRef struct {
	Namespace, Name, UID string
	Identity             identity.Identity
}

// Key is "namespace/name".
func (p PodRef) Key() string { return p.Namespace + "/" + p.Name }

func (p PodRef) isZero() bool { return p == PodRef{} }

// NodeAccount is the identity every ztunnel's bootstrap certificate carries.
func (c *CA) NodeAccount() identity.Identity {
	return identity.Identity{TrustDomain: c.td.Name(), Namespace: NodeAccountNamespace, ServiceAccount: NodeAccountName}
}

// IssueBootstrap plays the role of the Kubernetes service-account token a
// real ztunnel authenticates with: a client certificate for the node
// account, bound to node. The binding is the certificate's serial number,
// recorded here (only this CA can mint a serial that verifies against its
// roots, so the serial cannot be forged) and, for a CA from Open, on disk
// before the credential is returned. Returns PEM chain and PKCS#8 key.
func (c *CA) IssueBootstrap(node string) (certPEM, keyPEM []byte, err error) {
	if err := validNodeName(node); err != nil {
		return nil, nil, err
	}
	return c.issueBootstrap(c.NodeAccount(), pkix.Name{}, Binding{Node: node})
}

// IssuePodBootstrap is the pod-bound counterpart, standing in for a bound
// service-account token of one pod (a waypoint): a client certificate whose
// SAN is pod.Identity, marked as a pod bootstrap credential and bound to
// pod. With it the pod may obtain pod.Identity and nothing else, while the
// pod exists (authorizePod).
func (c *CA) IssuePodBootstrap(pod PodRef) (certPEM, keyPEM []byte, err error) {
	if err := c.validPodRef(pod); err != nil {
		return nil, nil, err
	}
	subject := pkix.Name{OrganizationalUnit: []string{podBootstrapOU}, CommonName: pod.Key()}
	return c.issueBootstrap(pod.Identity, subject, Binding{Pod: pod})
}

func (c *CA) issueBootstrap(id identity.Identity, subject pkix.Name, b Binding) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := c.issueWithSubject(key.Public(), id, c.opts.MaxTTL, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, subject)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	b.NotAfter = leaf.NotAfter
	serial := serialKey(leaf)
	c.mu.Lock()
	c.mu.bindings[serial] = b
	if err := c.persistLocked(); err != nil {
		delete(c.mu.bindings, serial)
		c.mu.Unlock()
		return nil, nil, err
	}
	c.mu.Unlock()
	c.log.Debug("bootstrap certificate issued", "node", b.Node, "pod", b.Pod.Key(), "serial", serial, "not_after", leaf.NotAfter)
	chain := encodeCert(leaf) + strings.Join(c.chainPEM, "")
	return []byte(chain), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// BindingOf returns what a verified bootstrap certificate is bound to. The
// caller must have verified leaf against this CA's roots.
func (c *CA) BindingOf(leaf *x509.Certificate) (Binding, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.mu.bindings[serialKey(leaf)]
	return b, ok
}

// NodeOf returns the node a verified bootstrap certificate was issued for.
// The caller must have verified leaf against this CA's roots.
func (c *CA) NodeOf(leaf *x509.Certificate) (string, bool) {
	b, ok := c.BindingOf(leaf)
	return b.Node, ok && b.Node != ""
}

// PodOf returns the pod a verified pod bootstrap certificate is bound to.
func (c *CA) PodOf(leaf *x509.Certificate) (PodRef, bool) {
	b, ok := c.BindingOf(leaf)
	return b.Pod, ok && !b.Pod.isZero()
}

// IsPodBootstrap reports whether a verified certificate was issued by
// IssuePodBootstrap, bound or not.
func IsPodBootstrap(leaf *x509.Certificate) bool {
	return slices.Contains(leaf.Subject.OrganizationalUnit, podBootstrapOU)
}

// BoundPods lists the pods holding at least one bound credential, one entry
// per pod key and UID, sorted by key.
func (c *CA) BoundPods() []PodRef {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[PodRef]bool{}
	var out []PodRef
	for _, b := range c.mu.bindings {
		if !b.Pod.isZero() && !seen[b.Pod] {
			seen[b.Pod] = true
			out = append(out, b.Pod)
		}
	}
	slices.SortFunc(out, func(a, b PodRef) int { return strings.Compare(a.Key()+"\x00"+a.UID, b.Key()+"\x00"+b.UID) })
	return out
}

// ForgetNode invalidates every bootstrap certificate of node (the node left
// the cluster); its ztunnel can no longer impersonate anyone.
func (c *CA) ForgetNode(node string) error {
	return c.forget(func(b Binding) bool { return b.Node == node && node != "" })
}

// ForgetPod invalidates every bootstrap certificate of the pod
// namespace/name, whatever its UID (the pod was deleted).
func (c *CA) ForgetPod(namespace, name string) error {
	return c.forget(func(b Binding) bool { return !b.Pod.isZero() && b.Pod.Namespace == namespace && b.Pod.Name == name })
}

func (c *CA) forget(match func(Binding) bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	removed := map[string]Binding{}
	for s, b := range c.mu.bindings {
		if match(b) {
			removed[s] = b
			delete(c.mu.bindings, s)
		}
	}
	if len(removed) == 0 {
		return nil
	}
	if err := c.persistLocked(); err != nil {
		// Keep memory and disk in agreement: a binding we failed to
		// remove on disk would come back after a restart.
		for s, b := range removed {
			c.mu.bindings[s] = b
		}
		return err
	}
	return nil
}

// persistLocked writes the bindings (CA from Open); expired ones are
// dropped first, since their certificates can no longer authenticate.
func (c *CA) persistLocked() error {
	now := time.Now()
	for s, b := range c.mu.bindings {
		if !b.NotAfter.After(now) {
			delete(c.mu.bindings, s)
		}
	}
	if c.store == nil {
		return nil
	}
	return c.store.writeBindings(c.mu.bindings)
}

func validNodeName(node string) error {
	if node == "" {
		return errEmptyNode
	}
	if len(node) > 253 || strings.ContainsAny(node, "/\x00 ") {
		return fmt.Errorf("ca: invalid node name %q", node)
	}
	return nil
}

// validPodRef checks a pod reference as IssuePodBootstrap and the bindings
// file need it: names usable as path segments, an identity of this trust
// domain in the pod's own namespace.
func (c *CA) validPodRef(p PodRef) error {
	for field, v := range map[string]string{"namespace": p.Namespace, "name": p.Name} {
		if v == "" || len(v) > 253 || strings.ContainsAny(v, "/\x00 ") || v == "." || v == ".." {
			return fmt.Errorf("ca: pod %q: invalid %s %q", p.Key(), field, v)
		}
	}
	if strings.ContainsAny(p.UID, "/\x00 ") || len(p.UID) > 128 {
		return fmt.Errorf("ca: pod %q: invalid uid %q", p.Key(), p.UID)
	}
	if !p.Identity.Valid() || p.Identity.TrustDomain != c.td.Name() || p.Identity.Namespace != p.Namespace {
		return fmt.Errorf("ca: pod %q: identity %q is not a service account of the pod's namespace in trust domain %s",
			p.Key(), p.Identity, c.td.Name())
	}
	return nil
}

// ServingCertificate issues the CA server's own certificate: DNS SANs
// dnsNames and URI SAN spiffe://<td>/ns/istio-system/sa/istiod, server usage.
func (c *CA) ServingCertificate(dnsNames ...string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := identity.Identity{TrustDomain: c.td.Name(), Namespace: "istio-system", ServiceAccount: "istiod"}
	leaf, err := c.issue(key.Public(), id, c.opts.MaxTTL, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, dnsNames)
	if err != nil {
		return nil, err
	}
	raw := [][]byte{leaf.Raw}
	for _, p := range c.chainPEM {
		b, _ := pem.Decode([]byte(p))
		raw = append(raw, b.Bytes)
	}
	return &tls.Certificate{Certificate: raw, PrivateKey: key, Leaf: leaf}, nil
}
