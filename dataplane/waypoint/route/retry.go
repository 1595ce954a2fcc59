package route

import (
	"slices"
	"time"
)

// RetryOn is an Envoy retry_on condition
// (envoy/config/route/v3 RetryPolicy; x-envoy-retry-on docs).
type RetryOn string

const (
	// Retry5xx: any 5xx response, a connect failure, a reset, or a per-try timeout.
	Retry5xx RetryOn = "5xx"
	// RetryGatewayError: 502, 503, 504 responses, connect failures and per-try timeouts.
	RetryGatewayError RetryOn = "gateway-error"
	// RetryReset: the upstream reset or did not respond (including per-try timeout).
	RetryReset RetryOn = "reset"
	// RetryResetBeforeRequest: the stream failed before the request was sent.
	RetryResetBeforeRequest RetryOn = "reset-before-request"
	// RetryConnectFailure: connecting to the upstream failed.
	RetryConnectFailure RetryOn = "connect-failure"
	// RetryRefusedStream: the upstream refused the HTTP/2 stream (REFUSED_STREAM).
	RetryRefusedStream RetryOn = "refused-stream"
	// RetryRetriableStatusCodes: a response whose status is in Codes.
	RetryRetriableStatusCodes RetryOn = "retriable-status-codes"
	// RetryRetriable4xx: 409 responses.
	RetryRetriable4xx RetryOn = "retriable-4xx"
	// RetryUnavailable / RetryCancelled / RetryDeadlineExceeded /
	// RetryResourceExhausted / RetryInternal: the grpc-status header of a
	// response is UNAVAILABLE (14) / CANCELLED (1) / DEADLINE_EXCEEDED (4) /
	// RESOURCE_EXHAUSTED (8) / INTERNAL (13).
	RetryUnavailable       RetryOn = "unavailable"
	RetryCancelled         RetryOn = "cancelled"
	RetryDeadlineExceeded  RetryOn = "deadline-exceeded"
	RetryResourceExhausted RetryOn = "resource-exhausted"
	RetryInternal          RetryOn = "internal"
)

// RetryConditions lists every condition the router understands.
var RetryConditions = []RetryOn{Retry5xx, RetryGatewayError, RetryReset, RetryResetBeforeRequest, RetryConnectFailure,
	RetryRefusedStream, RetryRetriableStatusCodes, RetryRetriable4xx, RetryUnavailable, RetryCancelled,
	RetryDeadlineExceeded, RetryResourceExhausted, RetryInternal}

// Retry is a route's retry policy (Envoy RetryPolicy as istiod writes it).
type Retry struct {
	// Attempts is the number of retries after the first try (Envoy
	// num_retries; VirtualService retries.attempts). 0 disables retries.
	Attempts int       `json:"attempts"`
	On       []RetryOn `json:"on"`
	// Codes are the retriable status codes for retriable-status-codes.
	Codes []int `json:"codes,omitempty"`
	// PerTryTimeout bounds each try; 0: only the route Timeout applies.
	PerTryTimeout Duration `json:"perTryTimeout,omitempty"`
	// Backoff is the base interval; 0 means Envoy's 25ms. Envoy backs off
	// with full jitter, exponentially, capped at 10× the base.
	Backoff Duration `json:"backoff,omitempty"`
}

// DefaultRetry is istiod's default for VirtualService and HTTPRoute routes
// without a retry stanza: 2 retries on
// connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes
// with no retriable status codes listed, so no response status is retried
// by default (istio pilot/pkg/networking/core/route/retry/retry.go
// defaultNumRetries, defaultRetryOn; RetriableStatusCodes unset), and no
// per-try timeout.
func DefaultRetry() *Retry {
	return &Retry{Attempts: 2, On: []RetryOn{RetryConnectFailure, RetryRefusedStream, RetryUnavailable,
		RetryCancelled, RetryRetriableStatusCodes}}
}

// DefaultRouteRetry is the retry policy of the route a waypoint uses when
// no VirtualService or HTTPRoute applies: 2 retries on
// reset-before-request (istio route.go BuildDefaultHTTPInboundRoute).
func DefaultRouteRetry() *Retry {
	return &Retry{Attempts: 2, On: []RetryOn{RetryResetBeforeRequest}}
}

// Failure is how one try ended, as the forwarder classifies it.
type Failure int

const (
	// FailureNone: a response arrived; Status (and GRPCStatus) say which.
	FailureNone Failure = iota
	// FailureConnect: connecting to the backend failed; nothing was sent.
	FailureConnect
	// FailureRefusedStream: the upstream refused the stream before processing.
	FailureRefusedStream
	// FailureReset: the upstream reset or closed after the request was sent,
	// before response headers.
	FailureReset
	// FailurePerTryTimeout: the per-try timeout expired before response headers.
	FailurePerTryTimeout
)

// Outcome is the result of one try.
type Outcome struct {
	Failure Failure
	Status  int
	// GRPCStatus is the response's grpc-status header ("" if none).
	GRPCStatus string
}

var grpcCodes = map[RetryOn]string{RetryCancelled: "1", RetryDeadlineExceeded: "4", RetryResourceExhausted: "8",
	RetryInternal: "13", RetryUnavailable: "14"}

// ShouldRetry reports whether the policy retries an attempt that ended as o.
// A nil policy never retries.
func (p *Retry) ShouldRetry(o Outcome) bool {
	if p == nil || p.Attempts <= 0 {
		return false
	}
	for _, c := range p.On {
		if retriesOn(c, o, p.Codes) {
			return true
		}
	}
	return false
}

func retriesOn(c RetryOn, o Outcome, codes []int) bool {
	switch o.Failure {
	case FailureConnect:
		return slices.Contains([]RetryOn{Retry5xx, RetryGatewayError, RetryReset, RetryResetBeforeRequest, RetryConnectFailure}, c)
	case FailureRefusedStream:
		return slices.Contains([]RetryOn{Retry5xx, RetryReset, RetryResetBeforeRequest, RetryRefusedStream}, c)
	case FailureReset:
		return c == Retry5xx || c == RetryReset
	case FailurePerTryTimeout:
		return c == Retry5xx || c == RetryGatewayError || c == RetryReset ||
			(c == RetryRetriableStatusCodes && slices.Contains(codes, 504))
	}
	switch c {
	case Retry5xx:
		return o.Status >= 500 && o.Status <= 599
	case RetryGatewayError:
		return o.Status == 502 || o.Status == 503 || o.Status == 504
	case RetryRetriableStatusCodes:
		return slices.Contains(codes, o.Status)
	case RetryRetriable4xx:
		return o.Status == 409
	}
	if want, ok := grpcCodes[c]; ok {
		return o.GRPCStatus == want
	}
	return false
}

// defaultBackoff is Envoy's base retry interval.
const defaultBackoff = 25 * time.Millisecond

// BackoffBefore returns the wait before retry number n (1-based): full
// jitter over [0, base·(2^n − 1)], capped at 10× base (Envoy
// JitteredExponentialBackOffStrategy), but never below the base when the
// policy set one explicitly — Gateway API HTTPRouteRetry.Backoff is a
// minimum ("MUST NOT be retried before the configured minimum duration").
func (p *Retry) BackoffBefore(n int, rnd Random) time.Duration {
	base := p.Backoff.D()
	explicit := base > 0
	if !explicit {
		base = defaultBackoff
	}
	ceiling := base * time.Duration(uint64(1)<<min(n, 10)-1)
	ceiling = min(ceiling, 10*base)
	d := time.Duration(rnd() * float64(ceiling))
	if explicit && d < base {
		d = base
	}
	return d
}
