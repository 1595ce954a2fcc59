package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeBootstrapDir writes a root and a client leaf with the given URI SANs
// signed by it, in the bootstrap file layout.
func writeBootstrapDir(t *testing.T, dir string, uris ...string) {
	t.Helper()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, rootKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = x509.ParseCertificate(rootDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for _, s := range uris {
		u, _ := url.Parse(s)
		leaf.URIs = append(leaf.URIs, u)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, root, leafKey.Public(), rootKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	for _, f := range []struct {
		name, typ string
		der       []byte
	}{{BootstrapCertFile, "CERTIFICATE", leafDER}, {BootstrapKeyFile, "PRIVATE KEY", keyDER}, {BootstrapRootFile, "CERTIFICATE", rootDER}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadBootstrapPodCredential(t *testing.T) {
	dir := t.TempDir()
	const wp = "spiffe://cluster.local/ns/shop/sa/waypoint"
	writeBootstrapDir(t, dir, wp)
	b, err := LoadBootstrap(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Identity.String() != wp || len(b.Verifier.Bundle().X509Authorities()) != 1 {
		t.Fatalf("identity %s, %d roots", b.Identity, len(b.Verifier.Bundle().X509Authorities()))
	}
	opts := b.CAClientOptions("127.0.0.1:15012")
	c, err := opts.Credential()
	if err != nil || opts.Impersonate || opts.Verifier != b.Verifier || c.Leaf.URIs[0].String() != wp {
		t.Fatalf("CAClientOptions: impersonate %v, credential %v", opts.Impersonate, err)
	}
}

func TestLoadBootstrapRefusals(t *testing.T) {
	empty := t.TempDir()
	if _, err := LoadBootstrap(empty); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty dir: %v, want ErrNotExist", err)
	}
	two := t.TempDir()
	writeBootstrapDir(t, two, "spiffe://cluster.local/ns/a/sa/b", "spiffe://cluster.local/ns/a/sa/c")
	if _, err := LoadBootstrap(two); err == nil || !strings.Contains(err.Error(), BootstrapCertFile) {
		t.Errorf("two URI SANs: %v", err)
	}
	badRoot := t.TempDir()
	writeBootstrapDir(t, badRoot, "spiffe://cluster.local/ns/a/sa/b")
	os.WriteFile(filepath.Join(badRoot, BootstrapRootFile), []byte("not pem"), 0o600)
	if _, err := LoadBootstrap(badRoot); err == nil || !strings.Contains(err.Error(), BootstrapRootFile) {
		t.Errorf("bad root: %v", err)
	}
	mismatch := t.TempDir()
	writeBootstrapDir(t, mismatch, "spiffe://cluster.local/ns/a/sa/b")
	other := t.TempDir()
	writeBootstrapDir(t, other, "spiffe://cluster.local/ns/a/sa/b")
	key, _ := os.ReadFile(filepath.Join(other, BootstrapKeyFile))
	os.WriteFile(filepath.Join(mismatch, BootstrapKeyFile), key, 0o600)
	if _, err := LoadBootstrap(mismatch); err == nil {
		t.Error("a key that does not match the certificate was accepted")
	}
}

// TestWaitBootstrapSeesLateFiles: the control plane writes the directory
// after the reader started waiting.
func TestWaitBootstrapSeesLateFiles(t *testing.T) {
	dir := t.TempDir()
	staging := t.TempDir()
	writeBootstrapDir(t, staging, "spiffe://cluster.local/ns/shop/sa/waypoint")
	done := make(chan error, 1)
	go func() {
		_, err := WaitBootstrap(context.Background(), dir, 10*time.Second)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	for _, f := range []string{BootstrapCertFile, BootstrapKeyFile, BootstrapRootFile} { // root last, as the control plane does
		if err := os.Rename(filepath.Join(staging, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := WaitBootstrap(context.Background(), t.TempDir(), 50*time.Millisecond); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("nothing written: %v, want ErrNotExist after the wait", err)
	}
}
