package echo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer collects the access log from server goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testServer struct {
	*Server
	// ownShutdown is set by tests that call Shutdown themselves and check its result.
	ownShutdown bool
	log         *syncBuffer
	httpURL     string
	tcpAddr     string
}

func startTest(t testing.TB) *testServer {
	t.Helper()
	log := &syncBuffer{}
	s, err := Start(Config{
		Identity: testID, ListenIP: "127.0.0.1", HTTPPorts: []uint16{0}, TCPPorts: []uint16{0},
		Log: log, ErrorLog: io.Discard, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, log: log, httpURL: "http://" + s.HTTPAddrs()[0].String(), tcpAddr: s.TCPAddrs()[0].String()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil && !ts.ownShutdown {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return ts
}

// clients returns an HTTP/1.1 client and an h2c prior-knowledge client.
func clients(t testing.TB) map[string]*http.Client {
	h1 := &http.Transport{Protocols: new(http.Protocols)}
	h1.Protocols.SetHTTP1(true)
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(func() { h1.CloseIdleConnections(); h2c.CloseIdleConnections() })
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return map[string]*http.Client{
		"HTTP/1.1": {Transport: h1, Timeout: 20 * time.Second, CheckRedirect: noRedirect},
		"HTTP/2.0": {Transport: h2c, Timeout: 20 * time.Second, CheckRedirect: noRedirect},
	}
}

func TestHTTPEndpoints(t *testing.T) {
	ts := startTest(t)
	type check func(t *testing.T, proto string, resp *http.Response, body []byte)
	jsonHas := func(want map[string]any) check {
		return func(t *testing.T, _ string, _ *http.Response, body []byte) {
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, body)
			}
			for k, v := range want {
				if fmt.Sprint(got[k]) != fmt.Sprint(v) {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		}
	}
	host := strings.TrimPrefix(ts.httpURL, "http://")
	tests := []struct {
		name, method, path, body, ctype string
		header                          http.Header
		wantCode                        int
		check                           check
	}{
		{name: "headers", path: "/headers", header: http.Header{"X-Test": {"a", "b"}, "User-Agent": {"t"}}, wantCode: 200,
			check: jsonHas(map[string]any{"headers": map[string]any{"Host": host, "X-Test": "a,b", "Accept-Encoding": "gzip", "User-Agent": "t"}})},
		{name: "ip", path: "/ip", wantCode: 200, check: jsonHas(map[string]any{"origin": "127.0.0.1"})},
		{name: "get", path: "/get?a=1&b=2&b=3", wantCode: 200, check: jsonHas(map[string]any{
			"args": map[string]any{"a": "1", "b": []any{"2", "3"}}, "origin": "127.0.0.1", "url": ts.httpURL + "/get?a=1&b=2&b=3"})},
		{name: "get wrong method", method: "POST", path: "/get", wantCode: 405},
		{name: "post json", method: "POST", path: "/post", body: `{"a":1}`, ctype: "application/json", wantCode: 200,
			check: jsonHas(map[string]any{"data": `{"a":1}`, "json": map[string]any{"a": 1}})},
		{name: "post form", method: "POST", path: "/post", body: "a=1&a=2&b=x", ctype: "application/x-www-form-urlencoded", wantCode: 200,
			check: jsonHas(map[string]any{"data": "", "form": map[string]any{"a": []any{"1", "2"}, "b": "x"}, "json": nil})},
		{name: "post binary", method: "POST", path: "/post", body: "\xff\x00", ctype: "application/octet-stream", wantCode: 200,
			check: jsonHas(map[string]any{"data": "data:application/octet-stream;base64,/wA="})},
		{name: "put", method: "PUT", path: "/put", body: "x", wantCode: 200, check: jsonHas(map[string]any{"data": "x"})},
		{name: "patch", method: "PATCH", path: "/patch", body: "y", wantCode: 200, check: jsonHas(map[string]any{"data": "y"})},
		{name: "delete", method: "DELETE", path: "/delete", wantCode: 200, check: jsonHas(map[string]any{"data": ""})},
		{name: "put wrong method", method: "GET", path: "/put", wantCode: 405},
		{name: "anything", method: "PUT", path: "/anything/x/y?q=1", body: "z", wantCode: 200,
			check: jsonHas(map[string]any{"method": "PUT", "data": "z", "args": map[string]any{"q": "1"}})},
		{name: "status single", path: "/status/418", wantCode: 418},
		{name: "status redirect", path: "/status/302", wantCode: 302, check: func(t *testing.T, _ string, resp *http.Response, _ []byte) {
			if loc := resp.Header.Get("Location"); loc != "/redirect/1" {
				t.Errorf("Location = %q", loc)
			}
		}},
		{name: "status list all weight on one", path: "/status/500:0,503:1", wantCode: 503},
		{name: "status invalid", path: "/status/abc", wantCode: 400},
		{name: "status 1xx rejected", path: "/status/101", wantCode: 400},
		{name: "delay", path: "/delay/0.05", wantCode: 200, check: jsonHas(map[string]any{"origin": "127.0.0.1"})},
		{name: "delay invalid", path: "/delay/-1", wantCode: 400},
		{name: "uuid", path: "/uuid", wantCode: 200, check: func(t *testing.T, _ string, _ *http.Response, body []byte) {
			var v struct{ UUID string }
			_ = json.Unmarshal(body, &v)
			if len(v.UUID) != 36 || v.UUID[14] != '4' {
				t.Errorf("uuid = %q", v.UUID)
			}
		}},
		{name: "bytes", path: "/bytes/1000?seed=3", wantCode: 200, check: func(t *testing.T, _ string, _ *http.Response, body []byte) {
			if len(body) != 1000 {
				t.Errorf("got %d bytes", len(body))
			}
		}},
		{name: "bytes bounded", path: "/bytes/999999999", wantCode: 200, check: func(t *testing.T, _ string, _ *http.Response, body []byte) {
			if len(body) != maxBytes {
				t.Errorf("got %d bytes, want %d", len(body), maxBytes)
			}
		}},
		{name: "echo text", path: "/some/path?x=1", header: http.Header{"X-Id": {"7"}}, wantCode: 200,
			check: func(t *testing.T, proto string, _ *http.Response, body []byte) {
				for _, want := range []string{"ServiceVersion=v1\n", "ServicePort=" + portOf(ts.httpURL) + "\n", "Host=" + host + "\n",
					"URL=/some/path?x=1\n", "Method=GET\n", "Proto=" + proto + "\n", "IP=127.0.0.1\n",
					"RequestHeader=X-Id:7\n", "Hostname=httpbin-0\n", "Namespace=ns1\n", "Cluster=cluster-1\n", "ResponseCode=200\n"} {
					if !strings.Contains(string(body), want) {
						t.Errorf("missing %q in\n%s", want, body)
					}
				}
			}},
		{name: "echo codes", path: "/?codes=503", wantCode: 503},
		{name: "echo json via accept", path: "/x", header: http.Header{"Accept": {"application/json"}}, wantCode: 200,
			check: jsonHas(map[string]any{"path": "/x", "pod": "httpbin-0", "namespace": "ns1", "node": "node-0",
				"service_account": "httpbin", "hostname": "httpbin-0", "source_ip": "127.0.0.1", "tls": false})},
		{name: "echo json path", path: "/echo.json", wantCode: 200,
			check: func(t *testing.T, proto string, _ *http.Response, body []byte) {
				jsonHas(map[string]any{"proto": proto, "port": portOf(ts.httpURL), "method": "GET"})(t, proto, nil, body)
			}},
	}
	for proto, c := range clients(t) {
		for _, tc := range tests {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				method := tc.method
				if method == "" {
					method = http.MethodGet
				}
				req, err := http.NewRequest(method, ts.httpURL+tc.path, strings.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				for k, vs := range tc.header {
					for _, v := range vs {
						req.Header.Add(k, v)
					}
				}
				if tc.ctype != "" {
					req.Header.Set("Content-Type", tc.ctype)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Proto != proto {
					t.Errorf("proto = %s, want %s", resp.Proto, proto)
				}
				if resp.StatusCode != tc.wantCode {
					t.Fatalf("status = %d, want %d; body:\n%s", resp.StatusCode, tc.wantCode, body)
				}
				if tc.check != nil {
					tc.check(t, proto, resp, body)
				}
			})
		}
	}
}

func portOf(url string) string { return url[strings.LastIndexByte(url, ':')+1:] }

func TestBodyLimit(t *testing.T) {
	ts := startTest(t)
	for proto, c := range clients(t) {
		resp, err := c.Post(ts.httpURL+"/post", "text/plain", bytes.NewReader(make([]byte, maxBodyBytes+1)))
		if err != nil {
			// The server may reset the connection once it stops reading.
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: status = %d, want 413", proto, resp.StatusCode)
		}
	}
}

// TestH2CUpgrade speaks the HTTP/1.1 Upgrade: h2c handshake by hand (Go's
// client does not implement it) and reads the response to stream 1 as HTTP/2.
func TestH2CUpgrade(t *testing.T) {
	ts := startTest(t)
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.httpURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /echo.json HTTP/1.1\r\nHost: up.example\r\nConnection: Upgrade, HTTP2-Settings\r\n"+
		"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status = %d, want 101", resp.StatusCode)
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, br)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var status string
	var body []byte
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status = f.Value
		}
	})
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		if f.Header().StreamID != 1 {
			continue
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			if _, err := dec.Write(f.HeaderBlockFragment()); err != nil {
				t.Fatal(err)
			}
		case *http2.DataFrame:
			body = append(body, f.Data()...)
		}
		if f.Header().Flags.Has(http2.FlagDataEndStream) {
			break
		}
	}
	if status != "200" {
		t.Fatalf(":status = %q", status)
	}
	var r Report
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if r.Host != "up.example" || r.Path != "/echo.json" {
		t.Errorf("report = %+v", r)
	}
}

func TestTCPEchoHalfClose(t *testing.T) {
	ts := startTest(t)
	c, err := net.Dial("tcp", ts.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	payload := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB: more than socket buffers
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c) // EOF only after the server half-closes
	if err != nil {
		t.Fatal(err)
	}
	if werr := <-errc; werr != nil {
		t.Fatal(werr)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d bytes, want %d identical", len(got), len(payload))
	}
	// The connection's log line is written once the server side is done.
	waitFor(t, func() bool {
		return strings.Contains(ts.log.String(), fmt.Sprintf(" tcp %s %d %d ", c.LocalAddr(), len(payload), len(payload)))
	})
}

func TestStats(t *testing.T) {
	ts := startTest(t)
	c := clients(t)["HTTP/1.1"]
	for range 3 {
		mustGet(t, c, ts.httpURL+"/ip")
	}
	conn, err := net.Dial("tcp", ts.tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	waitFor(t, func() bool { return ts.Stats().Snapshot().Total == 4 })
	var snap StatsSnapshot
	// Polling the stats endpoint is not counted.
	for range 2 {
		if err := json.Unmarshal(mustGet(t, c, ts.httpURL+StatsPath), &snap); err != nil {
			t.Fatal(err)
		}
	}
	hp, tp := portOf(ts.httpURL), portOf(ts.tcpAddr)
	if got := snap.Ports[hp]; got.Protocol != "http" || got.Total != 3 || got.BySource["127.0.0.1"] != 3 {
		t.Errorf("http port stats = %+v", got)
	}
	if got := snap.Ports[tp]; got.Protocol != "tcp" || got.Total != 1 {
		t.Errorf("tcp port stats = %+v", got)
	}
	if snap.BySource["127.0.0.1"] != 4 || snap.Total != 4 {
		t.Errorf("totals = %+v", snap)
	}
	if !strings.Contains(ts.log.String(), " GET "+strings.TrimPrefix(ts.httpURL, "http://")+" /ip 200 127.0.0.1:") {
		t.Errorf("access log missing /ip line:\n%s", ts.log.String())
	}
}

func TestStatsSourceBound(t *testing.T) {
	s := NewStats()
	for i := range maxSourcesPerPort + 10 {
		s.Record(80, "http", fmt.Sprint("10.0.", i/256, ".", i%256))
	}
	snap := s.Snapshot().Ports["80"]
	if len(snap.BySource) != maxSourcesPerPort+1 || snap.BySource[overflowSource] != 10 || snap.Total != maxSourcesPerPort+10 {
		t.Errorf("sources = %d, overflow = %d, total = %d", len(snap.BySource), snap.BySource[overflowSource], snap.Total)
	}
}

func TestShutdownFinishesInFlight(t *testing.T) {
	ts := startTest(t)
	cs := clients(t)
	done := make(chan string, len(cs))
	for proto, c := range cs {
		go func() {
			resp, err := c.Get(ts.httpURL + "/delay/0.3")
			if err != nil {
				done <- proto + ": " + err.Error()
				return
			}
			resp.Body.Close()
			done <- fmt.Sprintf("%s: %d", proto, resp.StatusCode)
		}()
	}
	waitFor(t, func() bool { return ts.Stats().Snapshot().Total == uint64(len(cs)) })
	ts.ownShutdown = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range cs {
		if got := <-done; !strings.HasSuffix(got, ": 200") {
			t.Errorf("in-flight request: %s, want 200", got)
		}
	}
	if c, err := net.Dial("tcp", strings.TrimPrefix(ts.httpURL, "http://")); err == nil {
		c.Close()
		t.Error("still accepting after Shutdown")
	}
}

func TestShutdownCutsAfterGrace(t *testing.T) {
	ts := startTest(t)
	c, err := net.Dial("tcp", ts.tcpAddr) // an idle TCP echo client never finishes
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, func() bool { return ts.Stats().Snapshot().Total == 1 })
	ts.ownShutdown = true
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("client read after cut = %v, want EOF", err)
	}
}

func TestStartBindFailureClosesListeners(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := uint16(ln.Addr().(*net.TCPAddr).Port)
	if _, err := Start(Config{ListenIP: "127.0.0.1", HTTPPorts: []uint16{0}, TCPPorts: []uint16{taken}}); err == nil {
		t.Fatal("Start succeeded on a taken port")
	}
}

func mustGet(t testing.TB, c *http.Client, url string) []byte {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkEchoHTTP measures keep-alive echo requests over loopback.
func BenchmarkEchoHTTP(b *testing.B) {
	ts := startTest(b)
	for proto, c := range clients(b) {
		b.Run(proto, func(b *testing.B) {
			for b.Loop() {
				resp, err := c.Get(ts.httpURL + "/")
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
