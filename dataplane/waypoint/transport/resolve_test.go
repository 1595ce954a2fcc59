package transport_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/waypoint/transport"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

func TestResolve(t *testing.T) {
	api := service("api", netip.MustParseAddr("198.19.0.20"),
		workloadapi.Port{ServicePort: 80, TargetPort: 8080, AppProtocol: workloadapi.AppProtocolHTTP11},
		workloadapi.Port{ServicePort: 81, AppProtocol: workloadapi.AppProtocolGRPC},
		workloadapi.Port{ServicePort: 5432, TargetPort: 5432})
	healthy := pod("api-1", netip.MustParseAddr("198.18.1.1"), api)
	named := pod("api-2", netip.MustParseAddr("198.18.1.2"), api)
	named.Services[api.Key()][80] = 9090 // a named targetPort resolved per pod
	sick := pod("api-3", netip.MustParseAddr("198.18.1.3"), api)
	sick.Status = workloadapi.StatusUnhealthy
	st, err := workloadapi.New([]*workloadapi.Workload{healthy, named, sick}, []*workloadapi.Service{api}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dst string
		wantErr   error
		wantL7    bool
		wantH2    bool
		wantEps   []string
	}{
		{"vip http: per-pod target ports, unhealthy skipped", "198.19.0.20:80", nil, true, false, []string{"198.18.1.1:8080", "198.18.1.2:9090"}},
		{"vip grpc: no target port means the service port", "198.19.0.20:81", nil, true, true, []string{"198.18.1.1:81", "198.18.1.2:81"}},
		{"vip undeclared protocol is tcp", "198.19.0.20:5432", nil, false, false, []string{"198.18.1.1:5432", "198.18.1.2:5432"}},
		{"vip without the port", "198.19.0.20:443", transport.ErrNoHealthyUpstream, false, false, nil},
		{"pod ip keeps its port and learns the protocol from its service", "198.18.1.1:8080", nil, true, false, []string{"198.18.1.1:8080"}},
		{"pod ip on a port no service declares", "198.18.1.1:7777", nil, false, false, []string{"198.18.1.1:7777"}},
		{"unhealthy pod ip", "198.18.1.3:8080", transport.ErrNoHealthyUpstream, true, false, nil},
		{"unknown address", "198.19.9.9:80", transport.ErrUnknownDestination, false, false, nil},
		{"ipv4-mapped vip is the vip", "[::ffff:198.19.0.20]:80", nil, true, false, []string{"198.18.1.1:8080", "198.18.1.2:9090"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tgt, err := transport.Resolve(st, netip.MustParseAddrPort(tc.dst))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if tgt.L7() != tc.wantL7 || tgt.HTTP2() != tc.wantH2 {
				t.Errorf("L7 %v HTTP2 %v, want %v %v", tgt.L7(), tgt.HTTP2(), tc.wantL7, tc.wantH2)
			}
			got := map[string]bool{}
			for _, ep := range tgt.Endpoints {
				got[ep.Addr.String()] = true
			}
			if len(got) != len(tc.wantEps) {
				t.Fatalf("endpoints %v, want %v", got, tc.wantEps)
			}
			for _, e := range tc.wantEps {
				if !got[e] {
					t.Errorf("endpoints %v lack %s", got, e)
				}
			}
		})
	}
}
