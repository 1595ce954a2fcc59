package waypoint_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/waypoint"
	"github.com/ambientlab/ambientlab/dataplane/waypoint/route"
)

func withFault(f *route.Fault) *route.Table {
	r := catchAll("fault", v1)
	r.Fault = f
	return &route.Table{HTTP: []route.HTTPRoute{r}}
}

func TestFaultAbortAlways(t *testing.T) {
	rw := newRouted(t, withFault(&route.Fault{Abort: &route.FaultAbort{HTTPStatus: 503, Percent: 100}}), nil)
	r := rw.do(t, "GET", "/", "")
	if r.code != 503 || r.body != "fault filter abort" || len(rw.up.take()) != 0 || rw.record().Flags&waypoint.FlagFaultInjected == 0 {
		t.Fatalf("abort: %d %q flags %v", r.code, r.body, rw.record().Flags)
	}
}

func TestFaultAbortGRPC(t *testing.T) {
	rw := newRouted(t, withFault(&route.Fault{Abort: &route.FaultAbort{GRPCStatus: "UNAVAILABLE", Percent: 100}}), nil)
	r := rw.do(t, "POST", "/pkg.Svc/Method", "x", "Content-Type", "application/grpc")
	if r.code != 200 || r.header.Get("Grpc-Status") != "14" || len(rw.up.take()) != 0 {
		t.Fatalf("grpc abort: %d %v", r.code, r.header)
	}
}

func TestFaultAbortHalf(t *testing.T) {
	rw := newRouted(t, withFault(&route.Fault{Abort: &route.FaultAbort{HTTPStatus: 500, Percent: 50}}), nil)
	const n = 400
	aborted := 0
	for range n {
		if rw.do(t, "GET", "/", "").code == 500 {
			aborted++
		}
	}
	if served := len(rw.up.take()); aborted < 160 || aborted > 240 || served != n-aborted {
		t.Fatalf("aborted %d of %d (want 200 ± 40), upstream served %d", aborted, n, served)
	}
}

func TestFaultDelay(t *testing.T) {
	const delay = 150 * time.Millisecond
	rw := newRouted(t, withFault(&route.Fault{Delay: &route.FaultDelay{Fixed: route.Duration(delay), Percent: 100}}), nil)
	start := time.Now()
	r := rw.do(t, "GET", "/", "")
	if el := time.Since(start); r.code != 200 || el < delay {
		t.Fatalf("delay: %d after %v, want ≥ %v", r.code, el, delay)
	}
	if rw.record().Flags&waypoint.FlagDelayInjected == 0 || len(rw.up.take()) != 1 {
		t.Fatal("delay not flagged DI or request not forwarded")
	}
}

// failFirst answers 503 to the first n tries of each request.
func failFirst(n int) backendFunc {
	return func(_ context.Context, tr try, k int) (*http.Response, error) {
		if k <= n {
			return textResponse(503, "try "+fmt.Sprint(k)), nil
		}
		return textResponse(200, "ok after "+fmt.Sprint(k-1)+" failures; body="+tr.Body), nil
	}
}

func retryOn503(attempts int) *route.Table {
	r := catchAll("retry", v1)
	r.Retry = &route.Retry{Attempts: attempts, On: []route.RetryOn{route.RetryConnectFailure, route.RetryRetriableStatusCodes},
		Codes: []int{503}, Backoff: route.Duration(time.Millisecond)}
	return &route.Table{HTTP: []route.HTTPRoute{r}}
}

func TestRetryMasksOneFailureAndReplaysBody(t *testing.T) {
	rw := newRouted(t, retryOn503(2), failFirst(1))
	r := rw.do(t, "POST", "/post", "payload")
	tries := rw.up.take()
	if r.code != 200 || len(tries) != 2 || tries[0].Body != "payload" || tries[1].Body != "payload" || !strings.Contains(r.body, "body=payload") {
		t.Fatalf("retry: %d %q, %d tries", r.code, r.body, len(tries))
	}
}

func TestRetryLimitExceededReturnsLastResponse(t *testing.T) {
	rw := newRouted(t, retryOn503(2), failFirst(10))
	r := rw.do(t, "GET", "/", "")
	if r.code != 503 || r.body != "try 3" || len(rw.up.take()) != 3 || rw.record().Flags&waypoint.FlagUpstreamRetryLimitExceeded == 0 {
		t.Fatalf("exhausted: %d %q flags %v", r.code, r.body, rw.record().Flags)
	}
}

// Istio's default policy lists no retriable status codes: a 503 response
// is returned as is, after one try.
func TestDefaultRetryDoesNotRetry503(t *testing.T) {
	rw := newRouted(t, &route.Table{HTTP: []route.HTTPRoute{catchAll("default", v1)}}, failFirst(1))
	if r := rw.do(t, "GET", "/", ""); r.code != 503 || len(rw.up.take()) != 1 {
		t.Fatalf("default policy retried a 503: %d", r.code)
	}
}

func TestRetryOnConnectFailureDefaultRoute(t *testing.T) {
	rw := newRouted(t, nil, func(_ context.Context, _ try, k int) (*http.Response, error) {
		if k == 1 {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		}
		return textResponse(200, "ok"), nil
	})
	if r := rw.do(t, "GET", "/", ""); r.code != 200 || len(rw.up.take()) != 2 {
		t.Fatalf("reset-before-request retry: %d", r.code)
	}
}

func TestConnectFailureExhausted(t *testing.T) {
	rw := newRouted(t, nil, func(context.Context, try, int) (*http.Response, error) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	})
	r := rw.do(t, "GET", "/", "")
	flags := rw.record().Flags
	if r.code != 503 || r.body != waypoint.BodyUpstreamFailure || len(rw.up.take()) != 3 ||
		flags&waypoint.FlagUpstreamConnectionFailure == 0 || flags&waypoint.FlagUpstreamRetryLimitExceeded == 0 {
		t.Fatalf("%d %q flags %v", r.code, r.body, flags)
	}
}

func TestNoHealthyUpstreamIsNotRetried(t *testing.T) {
	rw := newRouted(t, nil, func(context.Context, try, int) (*http.Response, error) {
		return nil, fmt.Errorf("service apps/x: %w", waypoint.ErrNoHealthyUpstream)
	})
	r := rw.do(t, "GET", "/", "")
	if r.code != 503 || r.body != "no healthy upstream" || len(rw.up.take()) != 1 || rw.record().Flags&waypoint.FlagNoHealthyUpstream == 0 {
		t.Fatalf("%d %q flags %v", r.code, r.body, rw.record().Flags)
	}
}

func TestPerTryTimeoutRetried(t *testing.T) {
	r := catchAll("per-try", v1)
	r.Retry = &route.Retry{Attempts: 2, On: []route.RetryOn{route.Retry5xx}, PerTryTimeout: route.Duration(50 * time.Millisecond)}
	rw := newRouted(t, &route.Table{HTTP: []route.HTTPRoute{r}}, func(ctx context.Context, _ try, k int) (*http.Response, error) {
		if k == 1 {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return textResponse(200, "second"), nil
	})
	if got := rw.do(t, "GET", "/", ""); got.code != 200 || got.body != "second" || len(rw.up.take()) != 2 {
		t.Fatalf("per-try timeout: %d %q", got.code, got.body)
	}
}

func TestRouteTimeout504(t *testing.T) {
	r := catchAll("timeout", v1)
	r.Timeout = route.Duration(100 * time.Millisecond)
	rw := newRouted(t, &route.Table{HTTP: []route.HTTPRoute{r}}, func(ctx context.Context, _ try, _ int) (*http.Response, error) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Second):
			return nil, errors.New("the route timeout did not cancel the try")
		}
	})
	start := time.Now()
	got := rw.do(t, "GET", "/", "")
	if got.code != 504 || got.body != "upstream request timeout" || rw.record().Flags&waypoint.FlagUpstreamRequestTimeout == 0 {
		t.Fatalf("%d %q flags %v", got.code, got.body, rw.record().Flags)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("timeout took %v", el)
	}
}

// A body larger than RetryBodyLimit is streamed once: never retried.
func TestLargeBodyIsNotRetried(t *testing.T) {
	rw := newRouted(t, retryOn503(2), failFirst(1))
	big := strings.Repeat("b", waypoint.RetryBodyLimit+1)
	r := rw.do(t, "POST", "/post", big)
	tries := rw.up.take()
	if r.code != 503 || len(tries) != 1 || len(tries[0].Body) != len(big) {
		t.Fatalf("large body: %d, %d tries", r.code, len(tries))
	}
}
