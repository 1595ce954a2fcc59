package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustCA(t testing.TB, mut func(*Options)) *CA {
	t.Helper()
	o := DefaultOptions()
	if mut != nil {
		mut(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustID(t testing.TB, s string) identity.Identity {
	t.Helper()
	id, err := identity.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// csrFor builds a CSR that claims sans (which the CA must ignore).
func csrFor(t testing.TB, sans ...string) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{DNSNames: []string{"evil.example"}}
	for _, s := range sans {
		u, _ := url.Parse(s)
		tmpl.URIs = append(tmpl.URIs, u)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), key
}

func TestSignSANFromCallerNotCSR(t *testing.T) {
	for _, inter := range []bool{false, true} {
		c := mustCA(t, func(o *Options) { o.Intermediate = inter })
		want := mustID(t, "spiffe://cluster.local/ns/a/sa/b")
		csr, key := csrFor(t, "spiffe://cluster.local/ns/istio-system/sa/istiod", "spiffe://evil/ns/x/sa/y")
		chainPEM, err := c.Sign(csr, want, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if wantLen := map[bool]int{false: 2, true: 3}[inter]; len(chainPEM) != wantLen {
			t.Fatalf("intermediate=%v: chain has %d elements, want %d", inter, len(chainPEM), wantLen)
		}
		chain, err := identity.ParsePEMChain(chainPEM)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := identity.NewCertificate(key, chain)
		if err != nil {
			t.Fatal(err)
		}
		if cert.Identity != want || len(cert.Leaf.URIs) != 1 || len(cert.Leaf.DNSNames) != 0 {
			t.Fatalf("SANs %v %v, want only %s", cert.Leaf.URIs, cert.Leaf.DNSNames, want)
		}
		if got := cert.Lifetime(); got != time.Hour {
			t.Fatalf("lifetime %s", got)
		}
		v, _ := identity.NewVerifier(c.Bundle(), nil)
		if _, err := v.Verify(append([]*x509.Certificate{cert.Leaf}, cert.Intermediates...), identity.UsageServer); err != nil {
			t.Fatalf("issued certificate does not verify: %v", err)
		}
		if _, err := v.Verify(append([]*x509.Certificate{cert.Leaf}, cert.Intermediates...), identity.UsageClient); err != nil {
			t.Fatalf("issued certificate not usable as client: %v", err)
		}
	}
}

func TestSignTTLAndCSRErrors(t *testing.T) {
	c := mustCA(t, func(o *Options) { o.DefaultTTL = 2 * time.Hour; o.MaxTTL = 24 * time.Hour })
	id := mustID(t, "spiffe://cluster.local/ns/a/sa/b")
	good, _ := csrFor(t)
	// A CSR whose signature does not match its key: flip a byte in the
	// signature (the tail of the DER).
	block, _ := pem.Decode(good)
	bad := append([]byte(nil), block.Bytes...)
	bad[len(bad)-3] ^= 0xff
	badSig := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: bad})
	twoBlocks := append(append([]byte(nil), good...), good...)
	big := make([]byte, 65<<10)

	tests := []struct {
		name     string
		csr      []byte
		ttl      time.Duration
		wantKind ErrorKind
		wantLife time.Duration
	}{
		{"default TTL", good, 0, "", 2 * time.Hour},
		{"negative TTL uses default", good, -time.Hour, "", 2 * time.Hour},
		{"at cap", good, 24 * time.Hour, "", 24 * time.Hour},
		{"over cap refused", good, 24*time.Hour + time.Second, KindTTL, 0},
		{"bad signature", badSig, time.Hour, KindCSR, 0},
		{"garbage", []byte("hello"), time.Hour, KindCSR, 0},
		{"wrong PEM type", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}), time.Hour, KindCSR, 0},
		{"two blocks", twoBlocks, time.Hour, KindCSR, 0},
		{"oversize", big, time.Hour, KindCSR, 0},
		{"empty", nil, time.Hour, KindCSR, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := c.Sign(tt.csr, id, tt.ttl)
			if tt.wantKind != "" {
				var ce *Error
				if !errors.As(err, &ce) || ce.Kind != tt.wantKind {
					t.Fatalf("err = %v, want kind %s", err, tt.wantKind)
				}
				if tt.name == "bad signature" && !strings.Contains(err.Error(), "CSR signature") {
					t.Fatalf("bad signature refused for another reason: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			certs, _ := identity.ParsePEMChain(chain)
			if got := certs[0].NotAfter.Sub(certs[0].NotBefore); got != tt.wantLife {
				t.Fatalf("lifetime %s, want %s", got, tt.wantLife)
			}
		})
	}
}

func TestSignRejectsWeakKeys(t *testing.T) {
	c := mustCA(t, nil)
	key, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Sign(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), mustID(t, "spiffe://cluster.local/ns/a/sa/b"), time.Hour)
	var ce *Error
	if !errors.As(err, &ce) || ce.Kind != KindCSR {
		t.Fatalf("P-224 CSR: err = %v, want csr-error", err)
	}
}

func TestSignRefusesForeignTrustDomain(t *testing.T) {
	c := mustCA(t, nil)
	csr, _ := csrFor(t)
	if _, err := c.Sign(csr, mustID(t, "spiffe://other.td/ns/a/sa/b"), time.Hour); err == nil {
		t.Fatal("signed an identity of a foreign trust domain")
	}
}

func TestBootstrapBinding(t *testing.T) {
	c := mustCA(t, nil)
	certPEM, keyPEM, err := c.IssueBootstrap("node-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.IssueBootstrap(""); err == nil {
		t.Fatal("empty node accepted")
	}
	chain, err := identity.ParsePEMChain([]string{string(certPEM)})
	if err != nil {
		t.Fatal(err)
	}
	if len(keyPEM) == 0 || chain[0].URIs[0].String() != "spiffe://cluster.local/ns/istio-system/sa/ztunnel" {
		t.Fatalf("bootstrap SAN %v", chain[0].URIs)
	}
	if n, ok := c.NodeOf(chain[0]); !ok || n != "node-1" {
		t.Fatalf("NodeOf = %q %v", n, ok)
	}
	c.ForgetNode("node-1")
	if _, ok := c.NodeOf(chain[0]); ok {
		t.Fatal("binding survived ForgetNode")
	}
}

func FuzzCSR(f *testing.F) {
	c := mustCA(f, nil)
	good, _ := csrFor(f, "spiffe://cluster.local/ns/a/sa/b")
	f.Add(good)
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{})
	block, _ := pem.Decode(good)
	f.Add(block.Bytes)
	id := mustID(f, "spiffe://cluster.local/ns/a/sa/b")
	f.Fuzz(func(t *testing.T, data []byte) {
		// Both the raw bytes and the bytes wrapped as PEM; never a panic,
		// and anything signed carries only the authorized SAN.
		for _, in := range [][]byte{data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: data})} {
			chain, err := c.Sign(in, id, time.Hour)
			if err != nil {
				var ce *Error
				if !errors.As(err, &ce) {
					t.Fatalf("untyped error %v", err)
				}
				continue
			}
			certs, err := identity.ParsePEMChain(chain)
			if err != nil || len(certs[0].URIs) != 1 || certs[0].URIs[0].String() != id.String() || len(certs[0].DNSNames) != 0 {
				t.Fatalf("signed certificate with SANs %v %v (err %v)", certs[0].URIs, certs[0].DNSNames, err)
			}
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	c := mustCA(b, nil)
	csr, _ := csrFor(b)
	id := mustID(b, "spiffe://cluster.local/ns/a/sa/b")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Sign(csr, id, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}
