package echo

import (
	"io"
	"net/http"
	"testing"
)

func TestFailFirst(t *testing.T) {
	ts := startTest(t)
	get := func(query, reqID string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.httpURL+"/echo?"+query, nil)
		if reqID != "" {
			req.Header.Set("X-Request-Id", reqID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// Per request id: the first try fails, the retry (same id) succeeds.
	for _, id := range []string{"a", "b"} {
		if c1, c2 := get("fail-first=1", id), get("fail-first=1", id); c1 != 503 || c2 != 200 {
			t.Fatalf("id %s: %d then %d, want 503 then 200", id, c1, c2)
		}
	}
	if c1, c2, c3 := get("fail-first=2&fail-code=500", "c"), get("fail-first=2&fail-code=500", "c"), get("fail-first=2&fail-code=500", "c"); c1 != 500 || c2 != 500 || c3 != 200 {
		t.Fatalf("fail-first=2: %d %d %d", c1, c2, c3)
	}
	// Without an id the first N requests overall fail.
	if c1, c2 := get("fail-first=1", ""), get("fail-first=1", ""); c1 != 503 || c2 != 200 {
		t.Fatalf("no id: %d then %d", c1, c2)
	}
	for _, bad := range []string{"fail-first=x", "fail-first=-1", "fail-first=1000", "fail-first=1&fail-code=99"} {
		if c := get(bad, "z"); c != 400 {
			t.Errorf("%s: %d, want 400", bad, c)
		}
	}
	if c := get("fail-first=0", "d"); c != 200 {
		t.Errorf("fail-first=0: %d", c)
	}
	http.DefaultClient.CloseIdleConnections()
}
