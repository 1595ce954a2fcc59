package echo

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

var testID = Identity{
	Namespace: "ns1", Pod: "httpbin-0", Node: "node-0", ServiceAccount: "httpbin",
	Cluster: "cluster-1", Hostname: "httpbin-0", Version: "v1",
}

func TestFieldText(t *testing.T) {
	tests := []struct {
		name string
		id   Identity
		o    Observation
		want string
	}{{
		name: "full",
		id:   testID,
		o: Observation{
			SourceIP: "198.19.0.5", SourcePort: 4000, Method: "GET", Host: "httpbin.ns1:8000",
			RequestURI: "/a//b?x=1", Path: "/a//b", Proto: "HTTP/1.1", Port: 80, ResponseCode: 200,
			Headers: http.Header{"X-B": {"2", "3"}, "Accept": {"*/*"}},
		},
		want: "ServiceVersion=v1\nServicePort=80\nHost=httpbin.ns1:8000\nURL=/a//b?x=1\nCluster=cluster-1\n" +
			"Namespace=ns1\nMethod=GET\nProto=HTTP/1.1\nIP=198.19.0.5\nRequestHeader=Accept:*/*\n" +
			"RequestHeader=X-B:2\nRequestHeader=X-B:3\nHostname=httpbin-0\nResponseCode=200\n",
	}, {
		// Istio writes Cluster and Namespace only when set, ServiceVersion always.
		name: "empty identity",
		o:    Observation{Method: "GET", Proto: "HTTP/2.0", SourceIP: "10.0.0.1", Port: 8080},
		want: "ServiceVersion=\nServicePort=8080\nHost=\nURL=\nMethod=GET\nProto=HTTP/2.0\nIP=10.0.0.1\nHostname=\n",
	}, {
		name: "tls alpn",
		o:    Observation{Method: "GET", TLS: true, ALPN: "h2"},
		want: "ServiceVersion=\nServicePort=0\nHost=\nURL=\nMethod=GET\nProto=\nIP=\nAlpn=h2\nHostname=\n",
	}, {
		name: "newlines escaped",
		o:    Observation{Headers: http.Header{"X": {"a\nServicePort=1"}}},
		want: "ServiceVersion=\nServicePort=0\nHost=\nURL=\nMethod=\nProto=\nIP=\nRequestHeader=X:a\\nServicePort=1\nHostname=\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(FieldText(tc.id, tc.o)); got != tc.want {
				t.Errorf("FieldText:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestSplitHostPort(t *testing.T) {
	tests := []struct {
		in       string
		wantIP   string
		wantPort int
	}{
		{"1.2.3.4:80", "1.2.3.4", 80},
		{"[::1]:443", "::1", 443},
		{"garbage", "garbage", 0},
		{"host:notaport", "host:notaport", 0},
		{"", "", 0},
	}
	for _, tc := range tests {
		ip, port := splitHostPort(tc.in)
		if ip != tc.wantIP || port != tc.wantPort {
			t.Errorf("splitHostPort(%q) = %q, %d; want %q, %d", tc.in, ip, port, tc.wantIP, tc.wantPort)
		}
	}
}

// FuzzReport builds both report forms from arbitrary headers: the text form
// must stay one field per line with one RequestHeader line per value, and the
// JSON form must be valid and carry every header value.
func FuzzReport(f *testing.F) {
	f.Add("X-Forwarded-For", "1.2.3.4", "/", "host")
	f.Add("", "", "", "")
	f.Add("A\nB", "v\r\nInjected=1", "/?q=\n", "h\x00st")
	f.Add("\xff\xfe", "\xc3\x28", "/\xff", "é")
	f.Fuzz(func(t *testing.T, key, value, uri, host string) {
		o := Observation{
			Host: host, RequestURI: uri, Method: "GET", Proto: "HTTP/1.1",
			Headers: http.Header{key: {value, value + "2"}},
		}
		text := string(FieldText(testID, o))
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		// 10 fields for testID (no TLS, ResponseCode 0) + one line per header value.
		if len(lines) != 10+2 {
			t.Fatalf("got %d lines, want 12:\n%s", len(lines), text)
		}
		headerLines := 0
		for _, l := range lines {
			name, _, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("line without '=': %q", l)
			}
			if name == fieldRequestHeader {
				headerLines++
			}
		}
		if headerLines != 2 {
			t.Fatalf("got %d RequestHeader lines, want 2", headerLines)
		}

		var r Report
		if err := json.Unmarshal(JSONReport(testID, o), &r); err != nil {
			t.Fatalf("JSON report does not parse: %v", err)
		}
		got := r.Headers[viaJSON(key)]
		if len(got) != 2 || got[0] != viaJSON(value) {
			t.Fatalf("headers round trip: got %q for key %q", got, key)
		}
		if r.Host != viaJSON(host) || !utf8.ValidString(r.URL) {
			t.Fatalf("host/url round trip: %q %q", r.Host, r.URL)
		}
	})
}

// viaJSON is s as encoding/json carries it: invalid UTF-8 bytes become U+FFFD.
func viaJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}
