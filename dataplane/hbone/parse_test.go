package hbone_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ambientlab/ambientlab/dataplane/hbone"
)

func TestParseAuthority(t *testing.T) {
	tests := []struct {
		in     string
		ok     bool
		want   string // canonical String() when ok
		isIP   bool
		reason string
	}{
		{in: "10.0.0.1:8080", ok: true, want: "10.0.0.1:8080", isIP: true},
		{in: "[fd00::1]:15008", ok: true, want: "[fd00::1]:15008", isIP: true},
		{in: "[::ffff:10.0.0.1]:80", ok: true, want: "10.0.0.1:80", isIP: true},
		{in: "reviews.default.svc.cluster.local:9080", ok: true, want: "reviews.default.svc.cluster.local:9080"},
		{in: "reviews.:80", ok: true, want: "reviews.:80"},
		{in: "a:65535", ok: true, want: "a:65535"},
		{in: "", ok: false},
		{in: "10.0.0.1", ok: false},
		{in: "10.0.0.1:", ok: false},
		{in: ":80", ok: false},
		{in: "10.0.0.1:0", ok: false},
		{in: "10.0.0.1:65536", ok: false},
		{in: "10.0.0.1:080", ok: false},
		{in: "10.0.0.1:+80", ok: false},
		{in: "10.0.0.1:8o", ok: false},
		{in: "fd00::1:80", ok: false},
		{in: "[fe80::1%eth0]:80", ok: false},
		{in: "[fe80::1%25eth0]:80", ok: false},
		{in: "[10.0.0.1]:80", ok: false},
		{in: "[fd00::1:80", ok: false},
		{in: "user@host:80", ok: false},
		{in: "ho st:80", ok: false},
		{in: "host\x00:80", ok: false},
		{in: "h\u00e9st:80", ok: false},
		{in: "-host:80", ok: false},
		{in: "a..b:80", ok: false},
		{in: strings.Repeat("a", 64) + ":80", ok: false},
		{in: strings.Repeat("a.", 130) + "a:80", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := hbone.ParseAuthority(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseAuthority(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if a.String() != tt.want || a.IsIP() != tt.isIP {
				t.Fatalf("got %q ip=%v, want %q ip=%v", a.String(), a.IsIP(), tt.want, tt.isIP)
			}
		})
	}
}

func FuzzParseAuthority(f *testing.F) {
	for _, s := range []string{"10.0.0.1:80", "[fd00::1]:15008", "svc.ns:9080", "[fe80::1%eth0]:1", ":0", "a:65536", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := hbone.ParseAuthority(s)
		if err != nil {
			return
		}
		// Accepted authorities round-trip through their canonical form.
		b, err := hbone.ParseAuthority(a.String())
		if err != nil || b != a {
			t.Fatalf("canonical %q of %q does not re-parse: %v %+v", a.String(), s, err, b)
		}
		if a.Port == 0 {
			t.Fatalf("port 0 accepted in %q", s)
		}
	})
}

func TestForwarded(t *testing.T) {
	src := netip.MustParseAddrPort("10.0.0.1:4242")
	if got, want := hbone.ForwardedFor(src, ""), `for="10.0.0.1:4242"`; got != want {
		t.Fatalf("ForwardedFor = %s, want %s", got, want)
	}
	if got, want := hbone.ForwardedFor(netip.MustParseAddrPort("[fd00::1]:80"), "reviews.default.svc.cluster.local"),
		`for="[fd00::1]:80";host=reviews.default.svc.cluster.local`; got != want {
		t.Fatalf("ForwardedFor = %s, want %s", got, want)
	}
	tests := []struct {
		in   string
		ok   bool
		want []hbone.Forwarded
	}{
		{`for="10.0.0.1:4242"`, true, []hbone.Forwarded{{For: "10.0.0.1:4242"}}},
		{`for=192.0.2.60;proto=http;by=203.0.113.43`, true, []hbone.Forwarded{{For: "192.0.2.60", Proto: "http", By: "203.0.113.43"}}},
		{`For="[2001:db8:cafe::17]:4711"`, true, []hbone.Forwarded{{For: "[2001:db8:cafe::17]:4711"}}},
		{`for=a, for="b";host=h`, true, []hbone.Forwarded{{For: "a"}, {For: "b", Host: "h"}}},
		{`for="a\"b"`, true, []hbone.Forwarded{{For: `a"b`}}},
		{`for=unknown;x-ext=1`, true, []hbone.Forwarded{{For: "unknown"}}},
		{`for="unterminated`, false, nil},
		{`for=`, false, nil},
		{`=x`, false, nil},
		{`for=a;;`, false, nil},
		{"for=\"\x01\"", false, nil},
		{`for=a,`, false, nil},
		{strings.Repeat("for=a,", 2000) + "for=a", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in[:min(len(tt.in), 40)], func(t *testing.T) {
			got, err := hbone.ParseForwarded(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("element %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func FuzzForwarded(f *testing.F) {
	f.Add(`for="10.0.0.1:4242";host=svc`, "10.0.0.1:1", "h")
	f.Add(`for=a, for=b`, "[fd00::1]:80", "")
	f.Fuzz(func(t *testing.T, header, forv, host string) {
		_, _ = hbone.ParseForwarded(header) // total: must not panic
		el := hbone.Forwarded{For: forv, Host: host}
		got, err := hbone.ParseForwarded(el.String())
		if el.String() == "" {
			return
		}
		if err != nil || len(got) != 1 {
			t.Fatalf("built %q does not parse: %v", el.String(), err)
		}
		if ascii(forv) && ascii(host) && (got[0].For != forv || got[0].Host != host) {
			t.Fatalf("round trip %+v -> %q -> %+v", el, el.String(), got[0])
		}
	})
}

// ascii: the builder replaces bytes Forwarded cannot carry.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '\t' && (s[i] < 0x20 || s[i] >= 0x7f) {
			return false
		}
	}
	return true
}
