package identity

import (
	"crypto/x509"
	"net/url"
	"testing"
	"time"
)

// TestVerifyCraftedCertificates is C1/C2: every malformed or untrusted peer
// certificate is refused with a specific reason; the well-formed twin passes.
func TestVerifyCraftedCertificates(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	pki := newPKI(t, "cluster.local", now)
	foreign := newPKI(t, "cluster.local", now)
	otherTD := newPKI(t, "other.td", now)
	const good = "spiffe://cluster.local/ns/shop/sa/cart"

	interKey := newKey(t)
	interTmpl := caTemplate(now, "intermediate")
	inter := sign(t, interTmpl, pki.root, interKey.Public(), pki.key)
	// An "intermediate" that is not a CA must not be able to issue.
	fakeInterTmpl := pki.leafTemplate("spiffe://cluster.local/ns/x/sa/y")
	fakeInterTmpl.KeyUsage |= x509.KeyUsageCertSign
	fakeInter := sign(t, fakeInterTmpl, pki.root, interKey.Public(), pki.key)
	expiredInterTmpl := caTemplate(now, "expired intermediate")
	expiredInterTmpl.NotAfter = now.Add(-time.Minute)
	expiredInter := sign(t, expiredInterTmpl, pki.root, interKey.Public(), pki.key)

	tmpl := func(mut func(*x509.Certificate)) *x509.Certificate {
		c := pki.leafTemplate(good)
		if mut != nil {
			mut(c)
		}
		return c
	}
	uri := func(s string) *url.URL { u, _ := url.Parse(s); return u }
	byRoot := func(tc *x509.Certificate) []*x509.Certificate { c, _ := pki.issue(t, tc, nil, nil); return c }

	tests := []struct {
		name  string
		chain []*x509.Certificate
		usage Usage
		want  Reason
	}{
		{"valid (twin)", byRoot(tmpl(nil)), UsageServer, ""},
		{"valid client", byRoot(tmpl(nil)), UsageClient, ""},
		{"valid via intermediate", func() []*x509.Certificate { c, _ := pki.issue(t, tmpl(nil), inter, interKey); return c }(), UsageServer, ""},
		{"no certificate", nil, UsageServer, ReasonNoCertificate},
		{"expired", byRoot(tmpl(func(c *x509.Certificate) { c.NotAfter = now.Add(-time.Second) })), UsageServer, ReasonExpired},
		{"not yet valid", byRoot(tmpl(func(c *x509.Certificate) { c.NotBefore = now.Add(time.Minute) })), UsageServer, ReasonNotYetValid},
		{"self-signed", func() []*x509.Certificate {
			k := newKey(t)
			return []*x509.Certificate{sign(t, tmpl(nil), nil, k.Public(), k)}
		}(), UsageServer, ReasonUnknownAuthority},
		{"foreign root, same trust domain", func() []*x509.Certificate { c, _ := foreign.issue(t, tmpl(nil), nil, nil); return c }(), UsageServer, ReasonUnknownAuthority},
		{"foreign trust domain", func() []*x509.Certificate {
			c, _ := otherTD.issue(t, otherTD.leafTemplate("spiffe://other.td/ns/shop/sa/cart"), nil, nil)
			return c
		}(), UsageServer, ReasonTrustDomainMismatch},
		{"foreign trust domain signed by our root", byRoot(tmpl(func(c *x509.Certificate) { c.URIs = []*url.URL{uri("spiffe://other.td/ns/a/sa/b")} })), UsageServer, ReasonTrustDomainMismatch},
		{"CA:true leaf", byRoot(tmpl(func(c *x509.Certificate) { c.IsCA = true })), UsageServer, ReasonNotALeaf},
		{"no basic constraints", byRoot(tmpl(func(c *x509.Certificate) { c.BasicConstraintsValid = false })), UsageServer, ReasonNotALeaf},
		{"leaf with CertSign", byRoot(tmpl(func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageCertSign })), UsageServer, ReasonBadKeyUsage},
		{"leaf without DigitalSignature", byRoot(tmpl(func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment })), UsageServer, ReasonBadKeyUsage},
		{"client-only EKU as server", byRoot(tmpl(func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} })), UsageServer, ReasonBadKeyUsage},
		{"server-only EKU as client", byRoot(tmpl(func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })), UsageClient, ReasonBadKeyUsage},
		{"no EKU", byRoot(tmpl(func(c *x509.Certificate) { c.ExtKeyUsage = nil })), UsageServer, ReasonBadKeyUsage},
		{"code-signing EKU", byRoot(tmpl(func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning} })), UsageServer, ReasonBadKeyUsage},
		{"two URI SANs", byRoot(tmpl(func(c *x509.Certificate) { c.URIs = append(c.URIs, uri("spiffe://cluster.local/ns/shop/sa/pay")) })), UsageServer, ReasonMalformedSAN},
		{"DNS-only SAN", byRoot(tmpl(func(c *x509.Certificate) { c.URIs = nil; c.DNSNames = []string{"cart.shop.svc"} })), UsageServer, ReasonMalformedSAN},
		{"non-SPIFFE URI", byRoot(tmpl(func(c *x509.Certificate) { c.URIs = []*url.URL{uri("https://cluster.local/ns/shop/sa/cart")} })), UsageServer, ReasonMalformedSAN},
		{"bad SPIFFE path", byRoot(tmpl(func(c *x509.Certificate) { c.URIs = []*url.URL{uri("spiffe://cluster.local/workload/cart")} })), UsageServer, ReasonMalformedSAN},
		{"empty sa", byRoot(tmpl(func(c *x509.Certificate) {
			c.URIs = []*url.URL{{Scheme: "spiffe", Host: "cluster.local", Path: "/ns/shop/sa/"}}
		})), UsageServer, ReasonMalformedSAN},
		{"wildcard sa", byRoot(tmpl(func(c *x509.Certificate) {
			c.URIs = []*url.URL{{Scheme: "spiffe", Host: "cluster.local", Path: "/ns/shop/sa/*"}}
		})), UsageServer, ReasonMalformedSAN},
		{"NUL in sa", byRoot(tmpl(func(c *x509.Certificate) {
			c.URIs = []*url.URL{{Scheme: "spiffe", Host: "cluster.local", Path: "/ns/shop/sa/cart\x00.evil"}}
		})), UsageServer, ReasonMalformedSAN},
		{"issued by a non-CA intermediate", func() []*x509.Certificate { c, _ := pki.issue(t, tmpl(nil), fakeInter, interKey); return c }(), UsageServer, ReasonUnknownAuthority},
		{"expired intermediate", func() []*x509.Certificate { c, _ := pki.issue(t, tmpl(nil), expiredInter, interKey); return c }(), UsageServer, ReasonExpired},
		{"missing intermediate", func() []*x509.Certificate { c, _ := pki.issue(t, tmpl(nil), inter, interKey); return c[:1] }(), UsageServer, ReasonUnknownAuthority},
	}
	v := pki.verifier(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := make([][]byte, len(tt.chain))
			for i, c := range tt.chain {
				raw[i] = c.Raw
			}
			id, err := v.VerifyRaw(raw, tt.usage)
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tt.want)
			}
			if tt.want == "" && id.String() != good {
				t.Fatalf("identity %s", id)
			}
		})
	}
}

func TestVerifyExpectedFailsClosed(t *testing.T) {
	now := time.Now()
	pki := newPKI(t, "cluster.local", now)
	v := pki.verifier(t)
	cart, _ := Parse("spiffe://cluster.local/ns/shop/sa/cart")
	pay, _ := Parse("spiffe://cluster.local/ns/shop/sa/pay")
	c := pki.certificate(t, cart)
	chain := []*x509.Certificate{c.Leaf}
	for _, tt := range []struct {
		want   []Identity
		reason Reason
	}{
		{nil, ReasonIdentityMismatch},
		{[]Identity{pay}, ReasonIdentityMismatch},
		{[]Identity{pay, cart}, ""},
	} {
		if _, err := v.VerifyExpected(chain, UsageServer, tt.want); ReasonOf(err) != tt.reason {
			t.Errorf("expected %v: %v, want %q", tt.want, err, tt.reason)
		}
	}
	if _, err := v.VerifyRaw([][]byte{[]byte("garbage")}, UsageServer); ReasonOf(err) != ReasonMalformed {
		t.Errorf("garbage DER: %v", err)
	}
}

func TestReasonsClosedSet(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons {
		if seen[r] || r == "" {
			t.Fatalf("duplicate or empty reason %q", r)
		}
		seen[r] = true
	}
	if ReasonOf(nil) != "" {
		t.Fatal("ReasonOf(nil)")
	}
}

func TestNewCertificateRejectsMismatchedKey(t *testing.T) {
	pki := newPKI(t, "cluster.local", time.Now())
	id, _ := Parse("spiffe://cluster.local/ns/a/sa/b")
	c := pki.certificate(t, id)
	if _, err := NewCertificate(newKey(t), []*x509.Certificate{c.Leaf}); err == nil {
		t.Fatal("accepted a key that does not match the leaf")
	}
	if len(c.Roots) != 1 || len(c.Intermediates) != 0 || len(c.TLSCertificate().Certificate) != 1 {
		t.Fatalf("root not split off: %d roots %d intermediates", len(c.Roots), len(c.Intermediates))
	}
}
