package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// Node proxies run as this service account (istio's trusted node account
// default, CA_TRUSTED_NODE_ACCOUNTS=istio-system/ztunnel).
const (
	NodeAccountNamespace = "istio-system"
	NodeAccountName      = "ztunnel"
)

// NodeAccount is the identity every ztunnel's bootstrap certificate carries.
func (c *CA) NodeAccount() identity.Identity {
	return identity.Identity{TrustDomain: c.td.Name(), Namespace: NodeAccountNamespace, ServiceAccount: NodeAccountName}
}

// IssueBootstrap plays the role of the Kubernetes service-account token a
// real ztunnel authenticates with: a client certificate for the node
// account, bound to node. The binding is the certificate's serial number,
// recorded here (only this CA can mint a serial that verifies against its
// roots, so the serial cannot be forged). Returns PEM chain and PKCS#8 key.
func (c *CA) IssueBootstrap(node string) (certPEM, keyPEM []byte, err error) {
	if node == "" {
		return nil, nil, errEmptyNode
	}
	if len(node) > 253 || strings.ContainsAny(node, "/\x00 ") {
		return nil, nil, fmt.Errorf("ca: invalid node name %q", node)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := c.issue(key.Public(), c.NodeAccount(), c.opts.MaxTTL, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	c.mu.bootstrapNode[serialKey(leaf)] = node
	c.mu.Unlock()
	c.log.Debug("bootstrap certificate issued", "node", node, "serial", serialKey(leaf), "not_after", leaf.NotAfter)
	chain := encodeCert(leaf) + strings.Join(c.chainPEM, "")
	return []byte(chain), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// NodeOf returns the node a verified bootstrap certificate was issued for.
// The caller must have verified leaf against this CA's roots.
func (c *CA) NodeOf(leaf *x509.Certificate) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.mu.bootstrapNode[serialKey(leaf)]
	return n, ok
}

// ForgetNode invalidates every bootstrap certificate of node (the node left
// the cluster); its ztunnel can no longer impersonate anyone.
func (c *CA) ForgetNode(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s, n := range c.mu.bootstrapNode {
		if n == node {
			delete(c.mu.bootstrapNode, s)
		}
	}
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
