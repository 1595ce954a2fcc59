package identity

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeBootstrapDir writes a new root and a client leaf with the given URI
// SANs signed by it, in the bootstrap file layout.
func writeBootstrapDir(t *testing.T, dir string, uris ...string) {
	t.Helper()
	newRenewPKI(t).write(t, dir, time.Now().Add(-time.Minute), time.Now().Add(time.Hour), uris...)
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
