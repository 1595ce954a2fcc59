package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// Files of a bootstrap directory, written by the control plane (istiod) for
// each node before that node's ztunnel starts.
const (
	BootstrapCertFile = "cert-chain.pem" // node-account client certificate chain
	BootstrapKeyFile  = "key.pem"        // its PKCS#8 key
	BootstrapRootFile = "root-cert.pem"  // the mesh root bundle
)

// Bootstrap is a node's credentials: the certificate it presents to the CA
// and the mesh roots every peer and the CA are verified against.
type Bootstrap struct {
	Credential tls.Certificate
	Identity   identity.Identity
	Verifier   *identity.Verifier
}

// LoadBootstrap reads dir. The root file is written last by the control
// plane, so its presence means the directory is complete.
func LoadBootstrap(dir string) (*Bootstrap, error) {
	rootPEM, err := os.ReadFile(filepath.Join(dir, BootstrapRootFile))
	if err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, BootstrapCertFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, BootstrapKeyFile))
	if err != nil {
		return nil, err
	}
	cred, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("ztunnel: bootstrap credential: %w", err)
	}
	roots, err := parseCertificates(rootPEM)
	if err != nil {
		return nil, fmt.Errorf("ztunnel: bootstrap roots: %w", err)
	}
	leaf := cred.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cred.Certificate[0]); err != nil {
			return nil, err
		}
	}
	if len(leaf.URIs) != 1 {
		return nil, errors.New("ztunnel: bootstrap certificate must carry exactly one SPIFFE URI")
	}
	id, err := identity.Parse(leaf.URIs[0].String())
	if err != nil {
		return nil, fmt.Errorf("ztunnel: bootstrap certificate: %w", err)
	}
	td, err := spiffeid.TrustDomainFromString(id.TrustDomain)
	if err != nil {
		return nil, err
	}
	v, err := identity.NewVerifier(x509bundle.FromX509Authorities(td, roots), nil)
	if err != nil {
		return nil, err
	}
	return &Bootstrap{Credential: cred, Identity: id, Verifier: v}, nil
}

// WaitBootstrap polls dir until it loads or wait passes: the control plane
// writes it at its own start, which may still be under way (there is no
// cross-process signal to wait on but the files themselves).
func WaitBootstrap(ctx context.Context, dir string, wait time.Duration) (*Bootstrap, error) {
	deadline := time.Now().Add(wait)
	for {
		b, err := LoadBootstrap(dir)
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return nil, fmt.Errorf("ztunnel: bootstrap credentials in %s: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func parseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate")
	}
	return out, nil
}
