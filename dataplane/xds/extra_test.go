package xds

import (
	"errors"
	"maps"
	"strings"
	"testing"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const typeExtra = "type.googleapis.com/ambientlab.test.Extra"

func extraAny(t *testing.T, payload string) *anypb.Any {
	t.Helper()
	v, err := proto.Marshal(wrapperspb.Bytes([]byte(payload)))
	if err != nil {
		t.Fatal(err)
	}
	return &anypb.Any{TypeUrl: typeExtra, Value: v}
}

// extraSink accepts payloads that do not start with "bad" and keeps the last
// accepted set, as a real consumer (the waypoint's config store) does.
type extraSink struct {
	calls    int
	accepted map[string]string
}

func (s *extraSink) apply(res map[string]*anypb.Any) error {
	s.calls++
	got := map[string]string{}
	for name, a := range res {
		b, err := BytesPayload(a)
		if err != nil {
			return err
		}
		if strings.HasPrefix(string(b), "bad") {
			return errors.New("resource " + name + ": bad payload")
		}
		got[name] = string(b)
	}
	s.accepted = got
	return nil
}

func TestExtraTypeACKNACK(t *testing.T) {
	sink := &extraSink{}
	c, err := NewADSClient(ADSConfig{Address: "unused:15010", Extra: []ExtraType{{TypeURL: typeExtra, Names: []string{"ns/gw"}, Apply: sink.apply}}})
	if err != nil {
		t.Fatal(err)
	}
	resp := func(nonce string, removed []string, res ...*discovery.Resource) *discovery.DeltaDiscoveryResponse {
		return &discovery.DeltaDiscoveryResponse{TypeUrl: typeExtra, Nonce: nonce, Resources: res, RemovedResources: removed}
	}
	steps := []struct {
		name     string
		resp     *discovery.DeltaDiscoveryResponse
		nack     string
		accepted map[string]string
		versions map[string]string
	}{
		{"first config", resp("1", nil, &discovery.Resource{Name: "ns/gw", Version: "v1", Resource: extraAny(t, "one")}),
			"", map[string]string{"ns/gw": "one"}, map[string]string{"ns/gw": "v1"}},
		{"rejected update keeps the previous one", resp("2", nil, &discovery.Resource{Name: "ns/gw", Version: "v2", Resource: extraAny(t, "bad two")}),
			"bad payload", map[string]string{"ns/gw": "one"}, map[string]string{"ns/gw": "v1"}},
		{"wrong Any type is rejected before Apply", resp("3", nil, &discovery.Resource{Name: "ns/gw", Version: "v3",
			Resource: &anypb.Any{TypeUrl: "type.googleapis.com/other", Value: nil}}),
			"type \"type.googleapis.com/other\"", map[string]string{"ns/gw": "one"}, map[string]string{"ns/gw": "v1"}},
		{"good update", resp("4", nil, &discovery.Resource{Name: "ns/gw", Version: "v4", Resource: extraAny(t, "four")}),
			"", map[string]string{"ns/gw": "four"}, map[string]string{"ns/gw": "v4"}},
		{"removal", resp("5", []string{"ns/gw"}), "", map[string]string{}, map[string]string{}},
	}
	for _, st := range steps {
		ack := c.handle(st.resp)
		if ack.GetTypeUrl() != typeExtra || ack.GetResponseNonce() != st.resp.Nonce {
			t.Fatalf("%s: reply %v", st.name, ack)
		}
		if got := ack.GetErrorDetail().GetMessage(); (st.nack == "") != (got == "") || !strings.Contains(got, st.nack) {
			t.Errorf("%s: error detail %q, want %q", st.name, got, st.nack)
		}
		if !maps.Equal(sink.accepted, st.accepted) {
			t.Errorf("%s: consumer holds %v, want %v", st.name, sink.accepted, st.accepted)
		}
		if v := c.cache.versionsOf(typeExtra); !maps.Equal(v, st.versions) {
			t.Errorf("%s: client reports versions %v, want %v", st.name, v, st.versions)
		}
	}
	if s := c.Status(); s.NACKs != 2 || s.ACKs != 3 {
		t.Errorf("status %+v, want 3 ACKs and 2 NACKs", s)
	}
	if sink.calls != 4 { // the wrong-type response never reached Apply
		t.Errorf("Apply called %d times, want 4", sink.calls)
	}
	select {
	case <-c.Synced():
		t.Error("extra resources alone must not mark the workload state synced")
	default:
	}
	// A reconnect subscribes to the extra type with its names and versions.
	c.cache.versions[typeExtra]["ns/gw"] = "v9"
	reqs := c.subscriptionsLocked(nil)
	last := reqs[len(reqs)-1]
	if len(reqs) != 3 || last.GetTypeUrl() != typeExtra || last.GetResourceNamesSubscribe()[0] != "ns/gw" ||
		last.GetInitialResourceVersions()["ns/gw"] != "v9" {
		t.Errorf("subscriptions %v", reqs)
	}
}

func TestExtraTypeConfigErrors(t *testing.T) {
	ok := func(map[string]*anypb.Any) error { return nil }
	for name, extra := range map[string][]ExtraType{
		"no apply":      {{TypeURL: typeExtra}},
		"no type":       {{Apply: ok}},
		"workload type": {{TypeURL: TypeAddress, Apply: ok}},
		"listed twice":  {{TypeURL: typeExtra, Apply: ok}, {TypeURL: typeExtra, Apply: ok}},
	} {
		if _, err := NewADSClient(ADSConfig{Address: "x:1", Extra: extra}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
