package route

import "time"

// Fault is VirtualService fault injection (Envoy HTTP fault filter, which
// Istio puts after RBAC and before the router). A delay is applied first,
// then an abort is considered, as the Envoy filter does.
type Fault struct {
	Delay *FaultDelay `json:"delay,omitempty"`
	Abort *FaultAbort `json:"abort,omitempty"`
}

// FaultDelay holds matching requests for Fixed.
type FaultDelay struct {
	Fixed Duration `json:"fixed"`
	// Percent of requests delayed, 0–100. The converter writes 100 when the
	// VirtualService leaves percentage unset ("all requests").
	Percent float64 `json:"percent"`
}

// FaultAbort answers matching requests without contacting a backend.
type FaultAbort struct {
	// HTTPStatus is the response status; 0 when GRPCStatus is used.
	HTTPStatus int `json:"httpStatus,omitempty"`
	// GRPCStatus is a gRPC status code name ("UNAVAILABLE") or number.
	GRPCStatus string  `json:"grpcStatus,omitempty"`
	Percent    float64 `json:"percent"`
}

// FaultDecision is what the fault filter does to one request.
type FaultDecision struct {
	Delay time.Duration // 0: none
	Abort *FaultAbort   // nil: none
}

// Decide draws the delay and the abort independently, each with its own
// percentage (Envoy samples them separately).
func (f *Fault) Decide(rnd Random) FaultDecision {
	var d FaultDecision
	if f == nil {
		return d
	}
	if f.Delay != nil && hit(f.Delay.Percent, rnd) {
		d.Delay = f.Delay.Fixed.D()
	}
	if f.Abort != nil && hit(f.Abort.Percent, rnd) {
		d.Abort = f.Abort
	}
	return d
}

func hit(percent float64, rnd Random) bool {
	switch {
	case percent <= 0:
		return false
	case percent >= 100:
		return true
	}
	return rnd()*100 < percent
}

// FaultAbortBody is the body Envoy's fault filter sends with an abort.
const FaultAbortBody = "fault filter abort"

// grpcStatusNumbers maps gRPC code names to their numbers.
var grpcStatusNumbers = map[string]string{"OK": "0", "CANCELLED": "1", "UNKNOWN": "2", "INVALID_ARGUMENT": "3",
	"DEADLINE_EXCEEDED": "4", "NOT_FOUND": "5", "ALREADY_EXISTS": "6", "PERMISSION_DENIED": "7",
	"RESOURCE_EXHAUSTED": "8", "FAILED_PRECONDITION": "9", "ABORTED": "10", "OUT_OF_RANGE": "11",
	"UNIMPLEMENTED": "12", "INTERNAL": "13", "UNAVAILABLE": "14", "DATA_LOSS": "15", "UNAUTHENTICATED": "16"}

// GRPCStatusNumber returns the numeric grpc-status for a name or number.
func GRPCStatusNumber(s string) (string, bool) {
	if n, ok := grpcStatusNumbers[s]; ok {
		return n, true
	}
	for _, n := range grpcStatusNumbers {
		if n == s {
			return n, true
		}
	}
	return "", false
}
