package policy

import (
	"fmt"
	"sort"
	"sync/atomic"
)

// Snapshot is an immutable, indexed set of policies, rebuilt as a whole on every
// xDS update and swapped atomically (Store), so a decision never sees half an
// update. Indexing follows ztunnel `src/state/policy.rs` PolicyStore: by key, and
// GLOBAL / NAMESPACE policies by scope (not by their namespace field).
type Snapshot struct {
	byKey       map[string]*Policy
	global      []*Policy
	byNamespace map[string][]*Policy
}

// UnknownPolicyError names a policy a workload references but the snapshot lacks.
type UnknownPolicyError struct{ Key string }

func (e *UnknownPolicyError) Error() string {
	return ReasonUnknownPolicy.Text(e.Key)
}

// NewSnapshot validates and indexes policies. It takes ownership: callers must not
// mutate them afterwards. Duplicate keys and invalid policies are errors (an xDS
// edge NACKs them; the previous snapshot stays in force).
func NewSnapshot(policies []*Policy) (*Snapshot, error) {
	s := &Snapshot{byKey: make(map[string]*Policy, len(policies)), byNamespace: map[string][]*Policy{}}
	for _, p := range policies {
		if err := p.Validate(); err != nil {
			return nil, err
		}
		p.CacheKey()
		k := p.Key()
		if _, dup := s.byKey[k]; dup {
			return nil, fmt.Errorf("policy: duplicate policy %s", k)
		}
		s.byKey[k] = p
		switch p.Scope {
		case ScopeGlobal:
			s.global = append(s.global, p)
		case ScopeNamespace:
			s.byNamespace[p.Namespace] = append(s.byNamespace[p.Namespace], p)
		}
	}
	byKey := func(ps []*Policy) { sort.Slice(ps, func(i, j int) bool { return ps[i].key < ps[j].key }) }
	byKey(s.global)
	for _, ps := range s.byNamespace {
		byKey(ps)
	}
	return s, nil
}

// Len is the number of policies in the snapshot.
func (s *Snapshot) Len() int { return len(s.byKey) }

// Get returns the policy with key "<ns>/<name>".
func (s *Snapshot) Get(key string) (*Policy, bool) {
	p, ok := s.byKey[key]
	return p, ok
}

// Applicable returns, in a stable order, the global policies, the namespace-scoped
// policies of workloadNamespace, and the policies the workload references by key
// (its Workload.authorization_policies). A referenced key that is missing yields
// an *UnknownPolicyError (with the policies found so far): the caller must fail
// closed (divergence Z10; ztunnel skips it with "skipping unknown policy").
func (s *Snapshot) Applicable(workloadNamespace string, workloadPolicyRefs []string) ([]*Policy, error) {
	out := make([]*Policy, 0, len(s.global)+len(s.byNamespace[workloadNamespace])+len(workloadPolicyRefs))
	return s.appendApplicable(out, workloadNamespace, workloadPolicyRefs)
}

func (s *Snapshot) appendApplicable(out []*Policy, ns string, refs []string) ([]*Policy, error) {
	out = append(out, s.global...)
	out = append(out, s.byNamespace[ns]...)
	for _, k := range refs {
		p, ok := s.byKey[k]
		if !ok {
			return out, &UnknownPolicyError{Key: k}
		}
		out = append(out, p)
	}
	return out, nil
}

// Decide is Applicable + Evaluate for one destination workload. An unknown
// reference denies with ReasonUnknownPolicy, even when a DENY would also match,
// so the log names the real problem.
func (s *Snapshot) Decide(workloadNamespace string, workloadPolicyRefs []string, attrs *Attributes) Decision {
	var buf [16]*Policy
	ps, err := s.appendApplicable(buf[:0], workloadNamespace, workloadPolicyRefs)
	if err != nil {
		key := ""
		if u, ok := err.(*UnknownPolicyError); ok {
			key = u.Key
		}
		return Decision{Verdict: Verdict{Policy: key, Reason: ReasonUnknownPolicy}}
	}
	return Evaluate(ps, attrs)
}

// Store holds the current Snapshot; readers Load it once per decision.
type Store struct{ cur atomic.Pointer[Snapshot] }

// NewStore starts with an empty snapshot (no policies: everything allowed, as in
// ztunnel before the first policy arrives).
func NewStore() *Store {
	st := &Store{}
	empty, _ := NewSnapshot(nil)
	st.cur.Store(empty)
	return st
}

// Load returns the current snapshot.
func (st *Store) Load() *Snapshot { return st.cur.Load() }

// Replace validates and installs a new snapshot built from policies, returning
// the previous one. On error the current snapshot stays.
func (st *Store) Replace(policies []*Policy) (prev *Snapshot, err error) {
	next, err := NewSnapshot(policies)
	if err != nil {
		return nil, err
	}
	return st.cur.Swap(next), nil
}
