package route

import "errors"

// Random returns a uniformly distributed number in [0, 1). The router
// injects it so weights and fault percentages are testable with a seed.
type Random func() float64

// ErrAllWeightsZero: no backend has a positive weight. Gateway API: "If
// all entries in BackendRefs are invalid, and there are also no filters
// specified in this route rule, all traffic which matches this rule MUST
// receive a 500 status code"; Istio answers weight-sum 0 with a direct 500.
var ErrAllWeightsZero = errors.New("route: no backend has a positive weight")

// ErrUnresolvedBackend: the chosen backend reference did not resolve; the
// share of traffic it would have had gets 500 (Gateway API BackendRef).
var ErrUnresolvedBackend = errors.New("route: backend reference did not resolve")

// PickBackend chooses among backends in proportion to their weights.
// Weight-0 backends are never chosen.
func PickBackend(backends []Backend, rnd Random) (*Backend, error) {
	var total uint64
	for i := range backends {
		total += uint64(backends[i].Weight)
	}
	if total == 0 {
		return nil, ErrAllWeightsZero
	}
	x := uint64(rnd() * float64(total))
	if x >= total { // rnd() == 1-ε rounding
		x = total - 1
	}
	for i := range backends {
		b := &backends[i]
		if x < uint64(b.Weight) {
			if !b.Resolved() {
				return b, ErrUnresolvedBackend
			}
			return b, nil
		}
		x -= uint64(b.Weight)
	}
	panic("route: weighted pick fell off the end") // unreachable: x < total
}

// TCPBackend picks the backend for a new TCP connection from the first
// TCPRoute; ok is false when the table has none (the connection goes to
// its original destination).
func (t *Table) TCPBackend(rnd Random) (b *Backend, ok bool, err error) {
	if t == nil || len(t.TCP) == 0 {
		return nil, false, nil
	}
	b, err = PickBackend(t.TCP[0].Backends, rnd)
	return b, true, err
}
