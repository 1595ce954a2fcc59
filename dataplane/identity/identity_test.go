package identity

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Identity
		ok   bool
	}{
		{"spiffe://cluster.local/ns/default/sa/bookinfo", Identity{"cluster.local", "default", "bookinfo"}, true},
		{"spiffe://example.org/ns/a.b-c_d/sa/x.y", Identity{"example.org", "a.b-c_d", "x.y"}, true},
		{"spiffe://cluster.local/ns/default/sa/", Identity{}, false},
		{"spiffe://cluster.local/ns//sa/x", Identity{}, false},
		{"spiffe://cluster.local/ns/default", Identity{}, false},
		{"spiffe://cluster.local/ns/default/sa/x/extra", Identity{}, false},
		{"spiffe://cluster.local/sa/x/ns/default", Identity{}, false},
		{"spiffe://cluster.local/ns/default/sa/x/", Identity{}, false},
		{"spiffe://cluster.local/ns/default/sa/*", Identity{}, false},
		{"spiffe://*/ns/default/sa/x", Identity{}, false},
		{"spiffe://cluster.local/ns/default/sa/x\x00y", Identity{}, false},
		{"spiffe://cluster.local/ns/%2e%2e/sa/x", Identity{}, false},
		{"spiffe://cluster.local/ns/../sa/x", Identity{}, false},
		{"spiffe://cluster.local/ns/default/sa/x?q=1", Identity{}, false},
		{"spiffe://cluster.local/ns/default/sa/x#f", Identity{}, false},
		{"spiffe://user@cluster.local/ns/default/sa/x", Identity{}, false},
		{"spiffe://cluster.local:8080/ns/default/sa/x", Identity{}, false},
		{"SPIFFE://cluster.local/ns/default/sa/x", Identity{}, false},
		{"spiffe://Cluster.Local/ns/default/sa/x", Identity{}, false},
		{"https://cluster.local/ns/default/sa/x", Identity{}, false},
		{"cluster.local/ns/default/sa/x", Identity{}, false},
		{"spiffe:///ns/default/sa/x", Identity{}, false},
		{"", Identity{}, false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("Parse(%q) = %#v, %v; want %#v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidIdentity) {
			t.Errorf("Parse(%q) error %v does not wrap ErrInvalidIdentity", tt.in, err)
		}
	}
}

func TestStringPrincipalRoundTrip(t *testing.T) {
	id, err := New("cluster.local", "ns1", "sa1")
	if err != nil {
		t.Fatal(err)
	}
	if id.String() != "spiffe://cluster.local/ns/ns1/sa/sa1" || id.Principal() != "cluster.local/ns/ns1/sa/sa1" {
		t.Fatalf("String %q Principal %q", id.String(), id.Principal())
	}
	if p, err := ParsePrincipal(id.Principal()); err != nil || p != id {
		t.Fatalf("ParsePrincipal: %v %v", p, err)
	}
	if _, err := ParsePrincipal(id.String()); err == nil {
		t.Fatal("ParsePrincipal accepted a scheme")
	}
	if id.SPIFFEID().String() != id.String() {
		t.Fatal("SPIFFEID mismatch")
	}
	for _, bad := range [][3]string{{"", "a", "b"}, {"td", "", "b"}, {"td", "a", ""}, {"td", "a/b", "c"}, {"td", "*", "c"}} {
		if _, err := New(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("New%q accepted", bad)
		}
		if (Identity{bad[0], bad[1], bad[2]}).Valid() {
			t.Errorf("Valid%q", bad)
		}
	}
}

func FuzzParseIdentity(f *testing.F) {
	for _, s := range []string{
		"spiffe://cluster.local/ns/default/sa/bookinfo", "spiffe://td/ns/a/sa/b/c", "spiffe://td/ns/*/sa/b",
		"spiffe://td/ns/a/sa/b\x00", "spiffe://td/ns/%41/sa/b", "spiffe://td//ns/a/sa/b", "spiffe://td/ns/a/sa/b?",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			return
		}
		// Accepted input is canonical: it round-trips exactly and carries
		// none of the forbidden characters.
		if id.String() != s {
			t.Fatalf("Parse(%q).String() = %q", s, id.String())
		}
		if strings.ContainsAny(id.Namespace+id.ServiceAccount, "/*\x00%") || id.Namespace == "" || id.ServiceAccount == "" {
			t.Fatalf("Parse(%q) = %#v", s, id)
		}
		again, err := ParsePrincipal(id.Principal())
		if err != nil || again != id {
			t.Fatalf("principal round trip of %q: %v %v", s, again, err)
		}
	})
}
