package app

import (
	"net/netip"
	"net/url"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

func jwksState(t testing.TB) *workloadapi.Snapshot {
	keys := &workloadapi.Service{Name: "keys", Namespace: "auth", Hostname: "keys.auth.svc.cluster.local",
		VIPs: []netip.Addr{netip.MustParseAddr("198.19.0.20")}}
	st, err := workloadapi.New([]*workloadapi.Workload{
		{UID: "k", Name: "keys-0", Namespace: "auth", IPs: []netip.Addr{netip.MustParseAddr("198.18.2.1")},
			Protocol: workloadapi.TunnelHBONE, Status: workloadapi.StatusHealthy},
		{UID: "p", Name: "plain-0", Namespace: "auth", IPs: []netip.Addr{netip.MustParseAddr("198.18.2.2")},
			Protocol: workloadapi.TunnelTCP, Status: workloadapi.StatusHealthy},
	}, []*workloadapi.Service{keys}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Which jwksUri hosts go through the mesh (and to which address).
func TestMeshDestination(t *testing.T) {
	st := jwksState(t)
	for _, tc := range []struct{ uri, want string }{
		{"http://keys.auth.svc.cluster.local/jwks", "198.19.0.20:80"},
		{"http://keys.auth.svc.cluster.local.:8080/jwks", "198.19.0.20:8080"},
		{"http://KEYS.auth.svc/jwks", "198.19.0.20:80"},
		{"http://keys.auth:9000/jwks", "198.19.0.20:9000"},
		{"http://198.19.0.20/jwks", "198.19.0.20:80"},
		{"http://[::ffff:198.19.0.20]:81/jwks", "198.19.0.20:81"},
		{"http://198.18.2.1:8080/jwks", "198.18.2.1:8080"}, // an HBONE pod
		{"http://198.18.2.2:8080/jwks", ""},                // a pod outside the mesh: plain
		{"http://keys/jwks", ""},                           // no namespace context
		{"http://keys.other.svc.cluster.local/jwks", ""},
		{"http://example.com/jwks", ""},
		{"http://keys.auth:0/jwks", ""},
		{"http://keys.auth:99999/jwks", ""},
	} {
		u, err := url.Parse(tc.uri)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := meshDestination(st, u, "cluster.local")
		if (tc.want == "") == ok || (ok && got.String() != tc.want) {
			t.Errorf("%s: %v %v, want %q", tc.uri, got, ok, tc.want)
		}
	}
	if _, ok := meshDestination(nil, &url.URL{Host: "198.19.0.20"}, "cluster.local"); ok {
		t.Error("no workload state must mean no mesh destination")
	}
}

func FuzzMeshDestination(f *testing.F) {
	st := jwksState(f)
	for _, s := range []string{"http://keys.auth:8080/jwks", "http://198.19.0.20/x", "http://[::1]:80/", "http://a..b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		u, err := url.Parse(uri)
		if err != nil {
			return
		}
		dst, ok := meshDestination(st, u, "cluster.local")
		if !ok {
			return
		}
		// Only addresses the workload API knows, never a port 0.
		_, svc := st.ServiceByVIP(dst.Addr())
		_, pod := st.WorkloadByIP(dst.Addr())
		if (!svc && !pod) || dst.Port() == 0 {
			t.Fatalf("%q → %v", uri, dst)
		}
	})
}
