package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Files of a bootstrap credential directory, written by the control plane:
// per node for ztunnel, per pod for a waypoint (a pod-bound credential).
// The names are the ones ztunnel's app package reads.
const (
	BootstrapCertFile = "cert-chain.pem" // client certificate chain presented to the CA
	BootstrapKeyFile  = "key.pem"        // its PKCS#8 key
	BootstrapRootFile = "root-cert.pem"  // the mesh root bundle; written last
)

// Bootstrap is a loaded bootstrap credential directory: the certificate
// presented to the CA, the identity it names (for a pod-bound credential,
// the one identity the CA will issue to it) and the mesh roots.
type Bootstrap struct {
	Credential tls.Certificate
	Identity   Identity
	Verifier   *Verifier

	// dir is where the credential was loaded from; the control plane
	// renews it there (past half life), and Current picks that up.
	dir        string
	now        func() time.Time
	mu         sync.Mutex
	current    *tls.Certificate // what Current hands out; starts as &Credential
	lastReload time.Time
}

// bootstrapReloadEvery bounds how often Current re-reads the directory
// while the credential it holds is past half life and nothing newer has
// been written yet.
const bootstrapReloadEvery = time.Second

// Current returns the credential to present to the CA now. Past half its
// lifetime it re-reads the directory (at most once per second) and
// switches to a renewed credential there: the same identity, a later
// expiry, and a chain to the same mesh roots. Anything else found there (a
// partial write, another identity, foreign roots) is ignored and the held
// credential kept, so a process outliving its first bootstrap credential
// keeps reaching the CA.
func (b *Bootstrap) Current() (*tls.Certificate, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.current == nil {
		b.current = &b.Credential
	}
	now := time.Now
	if b.now != nil {
		now = b.now
	}
	t, leaf := now(), b.current.Leaf
	if b.dir == "" || leaf == nil || t.Before(leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore)/2)) ||
		t.Sub(b.lastReload) < bootstrapReloadEvery {
		return b.current, nil
	}
	b.lastReload = t
	next, err := LoadBootstrap(b.dir)
	if err != nil || next.Identity != b.Identity || !next.Credential.Leaf.NotAfter.After(leaf.NotAfter) {
		return b.current, nil
	}
	if _, err := b.Verifier.VerifyRaw(next.Credential.Certificate, UsageClient); err != nil {
		return b.current, nil
	}
	b.current = &next.Credential
	return b.current, nil
}

// LoadBootstrap reads dir. The root file is written last, so its presence
// means the directory is complete; a missing file wraps os.ErrNotExist.
func LoadBootstrap(dir string) (*Bootstrap, error) {
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	rootPEM, err := read(BootstrapRootFile)
	if err != nil {
		return nil, err
	}
	certPEM, err := read(BootstrapCertFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := read(BootstrapKeyFile)
	if err != nil {
		return nil, err
	}
	cred, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("identity: bootstrap credential in %s: %w", dir, err)
	}
	var roots []*x509.Certificate
	for rest := rootPEM; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("identity: %s: %w", filepath.Join(dir, BootstrapRootFile), err)
		}
		roots = append(roots, c)
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("identity: %s: no certificate", filepath.Join(dir, BootstrapRootFile))
	}
	if cred.Leaf == nil { // X509KeyPair fills it unless GODEBUG x509keypairleaf=0
		if cred.Leaf, err = x509.ParseCertificate(cred.Certificate[0]); err != nil {
			return nil, fmt.Errorf("identity: %s: %w", filepath.Join(dir, BootstrapCertFile), err)
		}
	}
	if len(cred.Leaf.URIs) != 1 {
		return nil, fmt.Errorf("identity: %s: bootstrap certificate must carry exactly one SPIFFE URI", filepath.Join(dir, BootstrapCertFile))
	}
	id, err := Parse(cred.Leaf.URIs[0].String())
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", filepath.Join(dir, BootstrapCertFile), err)
	}
	td, err := spiffeid.TrustDomainFromString(id.TrustDomain)
	if err != nil {
		return nil, err
	}
	v, err := NewVerifier(x509bundle.FromX509Authorities(td, roots), nil)
	if err != nil {
		return nil, err
	}
	return &Bootstrap{Credential: cred, Identity: id, Verifier: v, dir: dir}, nil
}

// WaitBootstrap polls dir until it loads or wait passes: the control plane
// writes it asynchronously (a pod's credential after the pod appears), and
// the files themselves are the only cross-process signal.
func WaitBootstrap(ctx context.Context, dir string, wait time.Duration) (*Bootstrap, error) {
	deadline := time.Now().Add(wait)
	for {
		b, err := LoadBootstrap(dir)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return nil, fmt.Errorf("identity: bootstrap credentials in %s: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// CAClientOptions returns options for a CAClient that authenticates with
// this credential and trusts its roots, requesting the caller's own
// identity (Impersonate false, what a pod-bound credential needs; a node
// proxy sets Impersonate). Fetch b.Identity with the resulting client.
func (b *Bootstrap) CAClientOptions(address string) CAClientOptions {
	return CAClientOptions{Address: address, Verifier: b.Verifier, Credential: b.Current}
}
