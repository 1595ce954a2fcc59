package waypoint

import (
	"context"
	"net/netip"
	"testing"
)

func TestResponseFlagsString(t *testing.T) {
	for _, tc := range []struct {
		flags ResponseFlags
		want  string
	}{
		{0, "-"},
		{FlagNoHealthyUpstream, "UH"},
		{FlagUpstreamRequestTimeout, "UT"},
		{FlagUpstreamRemoteReset, "UR"},
		{FlagUpstreamConnectionFailure, "UF"},
		{FlagUpstreamConnectionTermination, "UC"},
		{FlagNoRouteFound, "NR"},
		{FlagDelayInjected, "DI"},
		{FlagFaultInjected, "FI"},
		{FlagDownstreamConnectionTermination, "DC"},
		{FlagUpstreamRetryLimitExceeded, "URX"},
		{FlagDownstreamProtocolError, "DPE"},
		// Envoy's enum order, not the order they were added.
		{FlagUpstreamRetryLimitExceeded | FlagUpstreamConnectionFailure, "UF,URX"},
		{FlagFaultInjected | FlagDelayInjected, "DI,FI"},
		{flagEnd, "?"},
		{flagEnd | FlagNoRouteFound, "NR,?"},
	} {
		if got := tc.flags.String(); got != tc.want {
			t.Errorf("ResponseFlags(%#x).String() = %q, want %q", uint32(tc.flags), got, tc.want)
		}
	}
	if len(flagShort) != 11 || flagEnd != 1<<len(flagShort) {
		t.Errorf("flagShort has %d entries for %d flags", len(flagShort), flagEnd)
	}
}

func TestDetailsStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{RBACDeniedDetails(""), "rbac_access_denied_matched_policy[none]"},
		{RBACDeniedDetails("apps/deny-admin"), "rbac_access_denied_matched_policy[ns[apps]-policy[deny-admin]]"},
		{RBACDeniedDetails("odd name"), "rbac_access_denied_matched_policy[odd_name]"},
		{JWTDeniedDetails("Jwt is expired"), "jwt_authn_access_denied{Jwt_is_expired}"},
		{JWTDeniedDetails("a\tb\nc"), "jwt_authn_access_denied{a_b_c}"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestNoteRejectDefaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rej       Reject
		preset    string
		preFlags  ResponseFlags
		wantFlags ResponseFlags
		want      string
	}{
		{name: "rbac", rej: Reject{Status: 403, Filter: "rbac", Body: BodyRBACDenied}, want: "rbac_access_denied_matched_policy[none]"},
		{name: "jwt", rej: Reject{Status: 401, Filter: "jwt_authn", Body: "Jwt is expired"}, want: "jwt_authn_access_denied{Jwt_is_expired}"},
		{name: "malformed", rej: Reject{Status: 400, Filter: "validate"}, want: DetailsCodecError, wantFlags: FlagDownstreamProtocolError},
		{name: "upstream", rej: Reject{Status: 503, Filter: "forward"}, want: DetailsConnectionFailure, wantFlags: FlagUpstreamConnectionFailure},
		{name: "upstream with precise flag", rej: Reject{Status: 503, Filter: "forward"}, preFlags: FlagNoHealthyUpstream,
			want: DetailsConnectionFailure, wantFlags: FlagNoHealthyUpstream},
		{name: "filter details win", rej: Reject{Status: 503, Filter: "forward"}, preset: DetailsNoHealthyUpstream,
			preFlags: FlagNoHealthyUpstream, want: DetailsNoHealthyUpstream, wantFlags: FlagNoHealthyUpstream},
		{name: "other", rej: Reject{Status: 500, Filter: "waypoint"}, want: "waypoint_rejected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Record
			r.AddFlags(tc.preFlags)
			if tc.preset != "" {
				r.SetDetails(tc.preset)
			}
			r.noteReject(&tc.rej)
			v := r.View()
			if v.Details != tc.want || v.Flags != tc.wantFlags {
				t.Errorf("details %q flags %v, want %q %v", v.Details, v.Flags, tc.want, tc.wantFlags)
			}
		})
	}
}

func TestRecordContext(t *testing.T) {
	if RecordFromContext(context.Background()) != nil {
		t.Fatal("empty context has a record")
	}
	ctx, rec := ensureRecord(context.Background())
	if RecordFromContext(ctx) != rec {
		t.Fatal("ensureRecord did not attach its record")
	}
	if ctx2, rec2 := ensureRecord(ctx); ctx2 != ctx || rec2 != rec {
		t.Fatal("ensureRecord replaced an existing record")
	}
	up := netip.MustParseAddrPort("10.1.0.9:8080")
	rec.SetBackend(Backend{ServiceHostname: "httpbin.apps.svc.cluster.local", ServiceNamespace: "apps", ServiceName: "httpbin", Port: 8000})
	rec.SetUpstream(up, "spiffe://cluster.local/ns/apps/sa/httpbin")
	rec.SetRequestID("rid")
	rec.setDetailsIfEmpty(DetailsViaUpstream)
	rec.setDetailsIfEmpty("ignored")
	v := rec.View()
	if !v.HasBackend || v.Backend.ServiceName != "httpbin" || v.UpstreamHost != up || v.RequestID != "rid" || v.Details != DetailsViaUpstream {
		t.Errorf("view = %+v", v)
	}
}
