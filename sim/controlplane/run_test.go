package controlplane

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ambientlab/ambientlab/dataplane/xds"
	"github.com/ambientlab/ambientlab/scenarios/manifest"
	"github.com/ambientlab/ambientlab/sim/topology"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestInputRoundTrip(t *testing.T) {
	set, err := manifest.Load("scenario.yaml", []byte(scenario))
	if err != nil {
		t.Fatal(err)
	}
	c, err := topology.Resolve(set, topology.ResolveOptions{Nodes: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteInput(dir, c, set); err != nil {
		t.Fatal(err)
	}
	c2, set2, v1, err := ReadInput(dir)
	if err != nil {
		t.Fatal(err)
	}
	a1, p1, _ := Build(c, set, "")
	a2, p2, _ := Build(c2, set2, "")
	if len(a1) != len(a2) || len(p1) != len(p2) {
		t.Fatalf("round trip changed the output: %d/%d addresses, %d/%d policies", len(a1), len(a2), len(p1), len(p2))
	}
	if err := WriteInput(dir, c, set); err != nil {
		t.Fatal(err)
	}
	if _, _, v2, _ := ReadInput(dir); v2 == v1 {
		t.Errorf("new generation kept version %s", v1)
	}
}

// TestRunPropagatesPolicies drives the istiod process loop: input written by
// the simulator → Run → delta xDS → an ADS client; a policy applied and then
// deleted at run time reaches the client.
func TestRunPropagatesPolicies(t *testing.T) {
	set, err := manifest.Load("scenario.yaml", []byte(scenario))
	if err != nil {
		t.Fatal(err)
	}
	c, err := topology.Resolve(set, topology.ResolveOptions{Nodes: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteInput(dir, c, set); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	reload := make(chan struct{}, 1)
	addr := make(chan net.Addr, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := Run(ctx, Config{InputDir: dir, Listen: "127.0.0.1:0", Reload: reload, PollInterval: time.Hour,
			OnListen: func(a net.Addr) { addr <- a }}); err != nil {
			t.Error(err)
		}
	}()
	client, err := xds.NewADSClient(xds.ADSConfig{Address: (<-addr).String(), NodeName: "node-0"})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); client.Run(ctx) }()
	<-client.Synced()
	if _, ok := client.Current().Policies().Get("mesh/allow-plain"); !ok {
		t.Fatal("initial policies missing")
	}

	extra, err := manifest.Decode("apply.yaml", []byte(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: plain}
spec:
  action: DENY
  rules: [{}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Merge(extra); err != nil {
		t.Fatal(err)
	}
	if err := WriteInput(dir, c, set); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	waitFor(t, func() bool { _, ok := client.Current().Policies().Get("plain/deny-all"); return ok })

	if _, err := set.Remove(extra); err != nil {
		t.Fatal(err)
	}
	if err := WriteInput(dir, c, set); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	waitFor(t, func() bool { _, ok := client.Current().Policies().Get("plain/deny-all"); return !ok })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
