package runner

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// logLine renders a connection-complete line as the reference ztunnel does.
func logLine(at time.Duration, dir TrafficDirection, fields string) AccessLogEntry {
	line := fmt.Sprintf("%s\tinfo\taccess\tconnection complete\t%s direction=%q", t0.Add(at).Format("2006-01-02T15:04:05.000000Z"), fields, dir)
	e, err := ParseAccessLogLine(line)
	if err != nil {
		panic(err)
	}
	return e
}

const (
	sleepSA   = "spiffe://cluster.local/ns/demo/sa/sleep"
	httpbinSA = "spiffe://cluster.local/ns/demo/sa/httpbin"
)

func outboundLine(at time.Duration, srcPort int) AccessLogEntry {
	return logLine(at, DirectionOutbound, fmt.Sprintf(`src.addr=198.19.1.2:%d src.workload="sleep-1" src.identity=%q dst.addr=198.18.16.20:8000 dst.hbone_addr=198.19.0.3:80 dst.identity=%q`, srcPort, sleepSA, httpbinSA))
}

func inboundLine(at time.Duration, srcPort int, id string) AccessLogEntry {
	return logLine(at, DirectionInbound, fmt.Sprintf(`src.addr=198.19.1.2:%d src.identity=%q dst.addr=198.19.0.3:80 dst.hbone_addr=198.19.0.3:80 dst.identity=%q`, srcPort, id, httpbinSA))
}

func TestMatchConnection(t *testing.T) {
	local := netip.MustParseAddrPort("198.19.1.2:40000")
	from, to := t0, t0.Add(2*time.Second)
	cases := []struct {
		name     string
		logs     map[string][]AccessLogEntry
		wantPath string
		wantID   string
	}{
		{"cross node", map[string][]AccessLogEntry{
			"node-1": {outboundLine(time.Second, 40000)},
			"node-0": {inboundLine(time.Second, 51000, sleepSA)},
		}, "ztunnel:node-1 ztunnel:node-0", sleepSA},
		{"same node is one hop", map[string][]AccessLogEntry{
			"node-0": {outboundLine(time.Second, 40000), inboundLine(time.Second, 51000, sleepSA)},
		}, "ztunnel:node-0", sleepSA},
		{"another attempt's outbound line does not match", map[string][]AccessLogEntry{
			"node-1": {outboundLine(time.Second, 40001)},
			"node-0": {inboundLine(time.Second, 51000, sleepSA)},
		}, "ztunnel:node-0", sleepSA},
		{"lines outside the window are ignored", map[string][]AccessLogEntry{
			"node-1": {outboundLine(-time.Second, 40000)},
			"node-0": {inboundLine(3*time.Second, 51000, sleepSA)},
		}, "", ""},
		{"the inbound line closest to the outbound one wins", map[string][]AccessLogEntry{
			"node-1": {outboundLine(1500*time.Millisecond, 40000)},
			"node-0": {inboundLine(200*time.Millisecond, 51000, "spiffe://cluster.local/ns/demo/sa/other"), inboundLine(1500*time.Millisecond, 51001, sleepSA)},
		}, "ztunnel:node-1 ztunnel:node-0", sleepSA},
		{"ambiguous inbound lines without an outbound one", map[string][]AccessLogEntry{
			"node-0": {inboundLine(200*time.Millisecond, 51000, sleepSA), inboundLine(1500*time.Millisecond, 51001, sleepSA)},
		}, "", ""},
		{"connection failed lines are not completions", map[string][]AccessLogEntry{
			"node-1": {func() AccessLogEntry {
				e := outboundLine(time.Second, 40000)
				e.Message = "connection failed"
				return e
			}()},
		}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := matchConnection(tc.logs, local, from, to)
			if got := strings.Join(o.path(), " "); got != tc.wantPath {
				t.Errorf("path %q, want %q", got, tc.wantPath)
			}
			id := ""
			if o.inbound != nil {
				id = o.inbound.Get(keySrcIdentity)
			}
			if id != tc.wantID {
				t.Errorf("identity %q, want %q", id, tc.wantID)
			}
		})
	}
}

func TestCheckPathAndIdentityMessages(t *testing.T) {
	local := netip.MustParseAddrPort("198.19.1.2:40000")
	cross := matchConnection(map[string][]AccessLogEntry{
		"node-1": {outboundLine(time.Second, 40000)},
		"node-0": {inboundLine(time.Second, 51000, sleepSA)},
	}, local, t0, t0.Add(2*time.Second))
	if why := checkPath([]string{"ztunnel:node-1", "ztunnel:node-0"}, cross); why != "" {
		t.Errorf("matching path failed: %s", why)
	}
	if why := checkPath([]string{"ztunnel:node-0", "ztunnel:node-1"}, cross); !strings.Contains(why, "got [ztunnel:node-1 → ztunnel:node-0], want [ztunnel:node-0 → ztunnel:node-1]") {
		t.Errorf("order is not checked: %q", why)
	}
	if why := checkPath([]string{"ztunnel:node-1", "waypoint:demo/wp", "ztunnel:node-0"}, cross); !strings.Contains(why, "waypoint:demo/wp cannot be observed") {
		t.Errorf("a waypoint hop passed or was not explained: %q", why)
	}
	if why := checkPath([]string{"ztunnel:node-0"}, pathObservation{}); !strings.Contains(why, "no ztunnel logged this connection") {
		t.Errorf("empty observation: %q", why)
	}
	if why := checkIdentity(sleepSA, cross); why != "" {
		t.Errorf("matching identity failed: %s", why)
	}
	want := "observed identity: got " + sleepSA + " (src.identity logged by ztunnel:node-0), want spiffe://cluster.local/ns/demo/sa/notsleep"
	if why := checkIdentity("spiffe://cluster.local/ns/demo/sa/notsleep", cross); why != want {
		t.Errorf("got %q\nwant %q", why, want)
	}
	if why := checkIdentity(sleepSA, pathObservation{}); !strings.Contains(why, "no inbound access-log line") {
		t.Errorf("missing inbound: %q", why)
	}
}
