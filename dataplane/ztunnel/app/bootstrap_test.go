package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

// writeBootstrap writes a root and a node-account leaf signed by it, with
// the leaf's SPIFFE URI (none when uri is empty).
func writeBootstrap(t *testing.T, dir, uri string) {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"cluster.local"}},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = x509.ParseCertificate(rootDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if uri != "" {
		u, _ := url.Parse(uri)
		leaf.URIs = []*url.URL{u}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, root, leafKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(BootstrapCertFile, "CERTIFICATE", leafDER)
	write(BootstrapKeyFile, "PRIVATE KEY", keyDER)
	write(BootstrapRootFile, "CERTIFICATE", rootDER)
}

func TestLoadBootstrap(t *testing.T) {
	dir := t.TempDir()
	writeBootstrap(t, dir, "spiffe://cluster.local/ns/istio-system/sa/ztunnel")
	b, err := LoadBootstrap(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := identity.Identity{TrustDomain: "cluster.local", Namespace: "istio-system", ServiceAccount: "ztunnel"}
	if b.Identity != want || b.Verifier.TrustDomain() != "cluster.local" {
		t.Errorf("identity %v, verifier trust domain %q", b.Identity, b.Verifier.TrustDomain())
	}
	if len(b.Credential.Certificate) != 1 || b.Credential.PrivateKey == nil {
		t.Errorf("credential: %d certificates, key %T", len(b.Credential.Certificate), b.Credential.PrivateKey)
	}

	noURI := t.TempDir()
	writeBootstrap(t, noURI, "")
	if _, err := LoadBootstrap(noURI); err == nil || !strings.Contains(err.Error(), "SPIFFE URI") {
		t.Errorf("leaf without a SPIFFE URI: %v", err)
	}
}

func TestWaitBootstrapIsBounded(t *testing.T) {
	start := time.Now()
	_, err := WaitBootstrap(context.Background(), filepath.Join(t.TempDir(), "never"), 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "bootstrap credentials") {
		t.Errorf("missing directory: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v for a 100ms bound", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := WaitBootstrap(ctx, t.TempDir(), time.Minute); err == nil {
		t.Error("a cancelled wait succeeded")
	}
}
