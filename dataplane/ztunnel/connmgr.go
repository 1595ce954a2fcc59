package ztunnel

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ambientlab/ambientlab/dataplane/policy"
	"github.com/ambientlab/ambientlab/dataplane/workloadapi"
)

// connManager tracks live inbound connections with the attributes they
// were authorized on, so a policy update can close the ones it now denies
// (ztunnel src/proxy/connection_manager.rs; reliability Z8).
//
// A connection registers *before* its policy check (ztunnel inbound step
// 6) and UpdateState stores the new state *before* re-evaluating; so either
// the connection's own check sees the new state, or re-evaluation sees the
// connection. No update is missed.
type connManager struct {
	log *slog.Logger
	mu  struct {
		sync.Mutex
		conns map[*trackedConn]struct{}
	}
}

// trackedConn is one registered connection.
type trackedConn struct {
	attrs policy.Attributes
	// dstUID finds the destination workload (its namespace and policy
	// references) in each new snapshot.
	dstUID string
	// close ends the connection with a cause (logged as its error).
	close context.CancelCauseFunc
}

func newConnManager(log *slog.Logger) *connManager {
	m := &connManager{log: log}
	m.mu.conns = map[*trackedConn]struct{}{}
	return m
}

// register adds tc; the returned func removes it (call once, when the
// connection ends).
func (m *connManager) register(tc *trackedConn) (unregister func()) {
	m.mu.Lock()
	m.mu.conns[tc] = struct{}{}
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.mu.conns, tc)
		m.mu.Unlock()
	}
}

// len is the number of live tracked connections.
func (m *connManager) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.mu.conns)
}

// PolicyChangeError is the cause of a connection closed because a new
// policy denies it.
type PolicyChangeError struct{ Verdict policy.Verdict }

func (e *PolicyChangeError) Error() string {
	return "connection closed due to policy change: " + e.Verdict.Text()
}

// decide authorizes attrs against the destination workload in st.
func decide(st *workloadapi.Snapshot, w *workloadapi.Workload, attrs *policy.Attributes) policy.Decision {
	return st.Policies().Decide(w.Namespace, w.AuthorizationPolicies, attrs)
}

// reevaluate closes every tracked connection st denies and returns how
// many it closed. A destination that left the state keeps its connection:
// pod removal arrives through ZDS, which tears the pod down itself.
func (m *connManager) reevaluate(st *workloadapi.Snapshot) int {
	m.mu.Lock()
	conns := make([]*trackedConn, 0, len(m.mu.conns))
	for tc := range m.mu.conns {
		conns = append(conns, tc)
	}
	m.mu.Unlock()
	closed := 0
	for _, tc := range conns {
		w, ok := st.WorkloadByUID(tc.dstUID)
		if !ok {
			continue
		}
		d := decide(st, w, &tc.attrs)
		if d.Allowed {
			continue
		}
		closed++
		m.log.Info("policy change", "action", "close", "reason", d.Text(),
			"src", fmt.Sprintf("%v", tc.attrs.SourceIP), "dst", w.Key(), "dst.port", tc.attrs.DestinationPort)
		tc.close(&PolicyChangeError{Verdict: d.Verdict})
	}
	return closed
}
