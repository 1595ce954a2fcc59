package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// renewPKI is one root that issues bootstrap credentials into a directory,
// as the control plane does when it renews them.
type renewPKI struct {
	root    *x509.Certificate
	rootKey *ecdsa.PrivateKey
	serial  int64
}

func newRenewPKI(t *testing.T) *renewPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(100 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	return &renewPKI{root: root, rootKey: key, serial: 1}
}

// write replaces dir's credential with a client leaf valid over
// [from, to] carrying the given URI SANs (one, unless a test wants a bad
// credential).
func (p *renewPKI) write(t *testing.T, dir string, from, to time.Time, uris ...string) {
	t.Helper()
	p.serial++
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(p.serial), NotBefore: from, NotAfter: to, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for _, s := range uris {
		u, _ := url.Parse(s)
		tmpl.URIs = append(tmpl.URIs, u)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.root, key.Public(), p.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	for _, f := range []struct {
		name, typ string
		der       []byte
	}{{BootstrapCertFile, "CERTIFICATE", der}, {BootstrapKeyFile, "PRIVATE KEY", keyDER}, {BootstrapRootFile, "CERTIFICATE", p.root.Raw}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Bootstrap.Current keeps the loaded credential until half its lifetime,
// then switches to a renewed one in the directory, and only to a proper
// renewal: the same identity, a later expiry, the same roots.
func TestBootstrapCurrentFollowsRenewal(t *testing.T) {
	const node = "spiffe://cluster.local/ns/istio-system/sa/ztunnel"
	t0 := time.Now().Truncate(time.Second)
	tests := []struct {
		name string
		at   time.Duration // clock, from the first credential's NotBefore (lifetime 24 h)
		// rewrite replaces the directory's content before Current is asked
		// (nil: the renewal written by the control plane).
		rewrite    func(t *testing.T, p *renewPKI, dir string)
		wantSwitch bool
	}{
		{name: "before half life the held one is used", at: 11 * time.Hour},
		{name: "past half life a renewal is taken", at: 13 * time.Hour, wantSwitch: true},
		{name: "another identity is ignored", at: 13 * time.Hour, rewrite: func(t *testing.T, p *renewPKI, dir string) {
			p.write(t, dir, t0.Add(-time.Minute), t0.Add(36*time.Hour), "spiffe://cluster.local/ns/shop/sa/cart")
		}},
		{name: "an earlier expiry is ignored", at: 13 * time.Hour, rewrite: func(t *testing.T, p *renewPKI, dir string) {
			p.write(t, dir, t0, t0.Add(20*time.Hour), node)
		}},
		{name: "another root is ignored", at: 13 * time.Hour, rewrite: func(t *testing.T, _ *renewPKI, dir string) {
			newRenewPKI(t).write(t, dir, t0.Add(-time.Minute), t0.Add(36*time.Hour), node)
		}},
		{name: "a missing directory is ignored", at: 13 * time.Hour, rewrite: func(t *testing.T, _ *renewPKI, dir string) {
			if err := os.Remove(filepath.Join(dir, BootstrapRootFile)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, dir := newRenewPKI(t), t.TempDir()
			p.write(t, dir, t0, t0.Add(24*time.Hour), node)
			b, err := LoadBootstrap(dir)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := b.Current()
			if tt.rewrite != nil {
				tt.rewrite(t, p, dir)
			} else {
				// Valid from before now: the chain check runs on the real clock.
				p.write(t, dir, t0.Add(-time.Minute), t0.Add(36*time.Hour), node)
			}
			b.now = func() time.Time { return t0.Add(tt.at) }
			got, err := b.Current()
			if err != nil {
				t.Fatal(err)
			}
			if switched := got != first; switched != tt.wantSwitch {
				t.Fatalf("switched = %v, want %v (serial %v)", switched, tt.wantSwitch, got.Leaf.SerialNumber)
			}
			if tt.wantSwitch && !got.Leaf.NotAfter.Equal(t0.Add(36*time.Hour)) {
				t.Fatalf("switched to a credential expiring %v", got.Leaf.NotAfter)
			}
			if again, _ := b.Current(); again != got {
				t.Fatal("Current is not stable between renewals")
			}
		})
	}
}
