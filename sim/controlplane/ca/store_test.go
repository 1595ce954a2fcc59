package ca

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/dataplane/identity"
)

func mustOpen(t testing.TB, dir string, mut func(*Options)) *CA {
	t.Helper()
	o := DefaultOptions()
	if mut != nil {
		mut(&o)
	}
	c, err := Open(o, dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leafOf takes an IssueBootstrap/IssuePodBootstrap result.
func leafOf(t testing.TB) func(certPEM, keyPEM []byte, err error) *x509.Certificate {
	return func(certPEM, keyPEM []byte, err error) *x509.Certificate {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return parseLeaf(t, certPEM, keyPEM)
	}
}

func parseLeaf(t testing.TB, certPEM, keyPEM []byte) *x509.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf
}

var waypointPod = PodRef{Namespace: "shop", Name: "waypoint-0", UID: "uid-1",
	Identity: identity.Identity{TrustDomain: "cluster.local", Namespace: "shop", ServiceAccount: "waypoint"}}

// TestOpenReloadsRootAndBindings is the restart: a second Open of the same
// directory has the same root, honours the bootstrap certificates the first
// one issued, and signs certificates that chain to the first one's roots.
func TestOpenReloadsRootAndBindings(t *testing.T) {
	for _, intermediate := range []bool{false, true} {
		t.Run(map[bool]string{false: "root signs", true: "intermediate signs"}[intermediate], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ca")
			first := mustOpen(t, dir, func(o *Options) { o.Intermediate = intermediate })
			nodeLeaf := leafOf(t)(first.IssueBootstrap("node-1"))
			podLeaf := leafOf(t)(first.IssuePodBootstrap(waypointPod))

			second := mustOpen(t, dir, nil) // Intermediate unset: the stored chain wins
			if !bytes.Equal(first.RootsPEM(), second.RootsPEM()) {
				t.Fatal("reopened CA has another root")
			}
			if n, ok := second.NodeOf(nodeLeaf); !ok || n != "node-1" {
				t.Errorf("NodeOf after reopen = %q %v", n, ok)
			}
			if p, ok := second.PodOf(podLeaf); !ok || p != waypointPod {
				t.Errorf("PodOf after reopen = %+v %v", p, ok)
			}
			if !IsPodBootstrap(podLeaf) || IsPodBootstrap(nodeLeaf) {
				t.Error("pod bootstrap marker on the wrong certificate")
			}
			csr, _ := csrFor(t)
			chain, err := second.Sign(csr, waypointPod.Identity, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			certs, _ := identity.ParsePEMChain(chain)
			v, _ := identity.NewVerifier(first.Bundle(), nil)
			if _, err := v.Verify(certs[:len(certs)-1], identity.UsageServer); err != nil {
				t.Errorf("certificate from the reopened CA does not verify against the first roots: %v", err)
			}
			if got := len(certs); got != map[bool]int{false: 2, true: 3}[intermediate] {
				t.Errorf("chain of %d certificates", got)
			}
			assertPrivate(t, dir)
		})
	}
}

// assertPrivate: the directory is 0700, every state file 0600, and no
// temporary file is left behind.
func assertPrivate(t *testing.T, dir string) {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("state dir mode %v (%v), want 0700", st.Mode().Perm(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(stateFiles) {
		t.Errorf("state dir holds %d entries, want %d (a leftover temporary file?)", len(ents), len(stateFiles))
	}
	for _, e := range ents {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
}

func TestForgetIsPersisted(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, nil)
	nodeLeaf := leafOf(t)(c.IssueBootstrap("node-1"))
	podLeaf := leafOf(t)(c.IssuePodBootstrap(waypointPod))
	if got := c.BoundPods(); len(got) != 1 || got[0] != waypointPod {
		t.Fatalf("BoundPods = %+v", got)
	}
	if err := c.ForgetNode("node-1"); err != nil {
		t.Fatal(err)
	}
	if err := c.ForgetPod("shop", "waypoint-0"); err != nil {
		t.Fatal(err)
	}
	again := mustOpen(t, dir, nil)
	if _, ok := again.NodeOf(nodeLeaf); ok {
		t.Error("a forgotten node binding came back after reopen")
	}
	if _, ok := again.PodOf(podLeaf); ok {
		t.Error("a forgotten pod binding came back after reopen")
	}
	if got := again.BoundPods(); len(got) != 0 {
		t.Errorf("BoundPods after forget = %+v", got)
	}
}

// TestFailedPersistKeepsNoBinding: when the bindings cannot be written the
// credential is not handed out and not honoured, so memory never promises
// what a restart would forget.
func TestFailedPersistKeepsNoBinding(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, nil)
	path := filepath.Join(dir, BindingsFile)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	// A non-empty directory in its place makes the rename fail (even for root).
	if err := os.MkdirAll(filepath.Join(path, "block"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.IssueBootstrap("node-1"); err == nil || !strings.Contains(err.Error(), BindingsFile) {
		t.Fatalf("IssueBootstrap with an unwritable bindings file: %v", err)
	}
	c.mu.Lock()
	n := len(c.mu.bindings)
	c.mu.Unlock()
	if n != 0 {
		t.Errorf("%d bindings kept in memory after a failed write", n)
	}
}

func TestExpiredBindingsAreDroppedOnOpen(t *testing.T) {
	dir := t.TempDir()
	c := mustOpen(t, dir, nil)
	live := map[string]Binding{
		"0a": {Node: "node-old", NotAfter: time.Now().Add(-time.Minute)},
		"0b": {Node: "node-new", NotAfter: time.Now().Add(time.Hour)},
	}
	if err := c.store.writeBindings(live); err != nil {
		t.Fatal(err)
	}
	again := mustOpen(t, dir, nil)
	again.mu.Lock()
	defer again.mu.Unlock()
	if _, ok := again.mu.bindings["0a"]; ok {
		t.Error("expired binding kept")
	}
	if b := again.mu.bindings["0b"]; b.Node != "node-new" {
		t.Errorf("live binding lost: %+v", b)
	}
}

// TestOpenRefusesDamagedState: partial and corrupt states are errors that
// name the file, and the damaged state is left as it was (no new root).
func TestOpenRefusesDamagedState(t *testing.T) {
	other := mustOpen(t, t.TempDir(), nil)
	otherKey, _ := os.ReadFile(filepath.Join(other.store.dir, CAKeyFile))
	otherRoot, _ := os.ReadFile(filepath.Join(other.store.dir, RootCertFile))
	tests := []struct {
		name     string
		damage   func(dir string) error
		opts     func(*Options)
		wantFile string
	}{
		{name: "root missing (interrupted creation)", damage: rm(RootCertFile), wantFile: RootCertFile},
		{name: "key missing", damage: rm(CAKeyFile), wantFile: CAKeyFile},
		{name: "bindings missing", damage: rm(BindingsFile), wantFile: BindingsFile},
		{name: "chain missing", damage: rm(CertChainFile), wantFile: CertChainFile},
		{name: "truncated root", damage: truncate(RootCertFile, 100), wantFile: RootCertFile},
		{name: "truncated key", damage: truncate(CAKeyFile, 60), wantFile: CAKeyFile},
		{name: "empty signer", damage: write(CACertFile, nil), wantFile: CACertFile},
		{name: "key of another CA", damage: write(CAKeyFile, otherKey), wantFile: CAKeyFile},
		{name: "root of another CA", damage: write(RootCertFile, otherRoot), wantFile: CACertFile},
		{name: "bindings not JSON", damage: write(BindingsFile, []byte("{\"version\":1,")), wantFile: BindingsFile},
		{name: "bindings with unknown field", damage: write(BindingsFile, []byte(`{"version":1,"bindings":[],"extra":1}`)), wantFile: BindingsFile},
		{name: "bindings of another version", damage: write(BindingsFile, []byte(`{"version":2,"bindings":[]}`)), wantFile: BindingsFile},
		{name: "other trust domain", opts: func(o *Options) { o.TrustDomain = "other.td" }, wantFile: RootCertFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			mustOpen(t, dir, nil)
			if tt.damage != nil {
				if err := tt.damage(dir); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, dir)
			o := DefaultOptions()
			if tt.opts != nil {
				tt.opts(&o)
			}
			_, err := Open(o, dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantFile) {
				t.Fatalf("Open = %v, want an error naming %s", err, tt.wantFile)
			}
			if after := snapshot(t, dir); after != before {
				t.Error("a failed Open changed the state directory")
			}
		})
	}
}

func rm(name string) func(string) error {
	return func(dir string) error { return os.Remove(filepath.Join(dir, name)) }
}

func truncate(name string, n int64) func(string) error {
	return func(dir string) error { return os.Truncate(filepath.Join(dir, name), n) }
}

func write(name string, data []byte) func(string) error {
	return func(dir string) error { return os.WriteFile(filepath.Join(dir, name), data, 0o600) }
}

func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		b.WriteString(e.Name() + "\x00" + string(data) + "\x00")
	}
	return b.String()
}

func TestParseBindingsFieldErrors(t *testing.T) {
	c := mustCA(t, nil)
	future := `"not_after":"2999-01-01T00:00:00Z"`
	tests := []struct{ in, wantField string }{
		{`{"version":1,"bindings":[{"serial":"0a",` + future + `}]}`, "bindings[0].node"},
		{`{"version":1,"bindings":[{"serial":"0A",` + future + `,"node":"n"}]}`, "bindings[0].serial"},
		{`{"version":1,"bindings":[{"serial":"000a",` + future + `,"node":"n"}]}`, "bindings[0].serial"},
		{`{"version":1,"bindings":[{"serial":"0a","node":"n"}]}`, "bindings[0].not_after"},
		{`{"version":1,"bindings":[{"serial":"0a",` + future + `,"node":"a/b"}]}`, "bindings[0].node"},
		{`{"version":1,"bindings":[{"serial":"0a",` + future + `,"node":"n"},{"serial":"0a",` + future + `,"node":"m"}]}`, "bindings[1].serial"},
		{`{"version":1,"bindings":[{"serial":"0a",` + future + `,"node":"n","pod":{"namespace":"a","name":"b","identity":"spiffe://cluster.local/ns/a/sa/c"}}]}`, "bindings[0].node"},
		{`{"version":1,"bindings":[{"serial":"0a",` + future + `,"pod":{"namespace":"a","name":"b","identity":"spiffe://cluster.local/ns/x/sa/c"}}]}`, "bindings[0].pod"},
		{`{"version":1,"bindings":[{"serial":"0a",` + future + `,"pod":{"namespace":"a","name":"b","identity":"spiffe://other.td/ns/a/sa/c"}}]}`, "bindings[0].pod"},
		{`{"version":1,"bindings":[{"serial":"0a",` + future + `,"pod":{"namespace":"a","name":"b","identity":"nope"}}]}`, "bindings[0].pod.identity"},
		{`{"version":1,"bindings":[]} {}`, "trailing data"},
	}
	for _, tt := range tests {
		_, err := parseBindings([]byte(tt.in), c)
		if err == nil || !strings.Contains(err.Error(), tt.wantField) {
			t.Errorf("parseBindings(%s) = %v, want an error naming %s", tt.in, err, tt.wantField)
		}
	}
}

// FuzzParseBindings: never a panic, and whatever parses encodes back to a
// file that parses to the same bindings.
func FuzzParseBindings(f *testing.F) {
	c := mustCA(f, nil)
	good, _ := encodeBindings(map[string]Binding{
		"0a": {Node: "node-1", NotAfter: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)},
		"0b": {Pod: waypointPod, NotAfter: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)},
	})
	f.Add(good)
	f.Add([]byte(`{"version":1,"bindings":[]}`))
	f.Add([]byte(`{"version":1,"bindings":null}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseBindings(data, c)
		if err != nil {
			return
		}
		enc, err := encodeBindings(b)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseBindings(enc, c)
		if err != nil || len(again) != len(b) {
			t.Fatalf("re-encoded bindings do not parse back: %v (%d vs %d)", err, len(again), len(b))
		}
		for s, bd := range b {
			if a := again[s]; a.Node != bd.Node || a.Pod != bd.Pod || !a.NotAfter.Equal(bd.NotAfter) {
				t.Fatalf("binding %s changed in a round trip: %+v → %+v", s, bd, a)
			}
		}
	})
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	for _, data := range []string{"one", "two"} {
		if err := writeFileAtomic(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Fatalf("after writing %q: %q %v", data, got, err)
		}
	}
	if err := writeFileAtomic(filepath.Join(t.TempDir(), "missing", "f"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("write into a missing directory: %v", err)
	}
}
