package nodeagent

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ambientlab/ambientlab/internal/testutil/nstest"
)

var (
	podAIP = netip.MustParseAddr("198.19.0.2") // captured pod
	podBIP = netip.MustParseAddr("198.19.0.4") // second captured pod
	peerIP = netip.MustParseAddr("198.19.0.3") // plain peer
)

// TestAgentDrivesInpodClient: real rules, real SEQPACKET, real netns fds.
func TestAgentDrivesInpodClient(t *testing.T) {
	requireNetns(t)
	node, podA, podB, peer := nstest.NewNetns(t), nstest.NewNetns(t), nstest.NewNetns(t), nstest.NewNetns(t)
	nstest.SetupNode(t, node, netip.MustParsePrefix("10.96.0.0/16"))
	nstest.AddPod(t, node, podA, "veth-a", podAIP)
	nstest.AddPod(t, node, podB, "veth-b", podBIP)
	nstest.AddPod(t, node, peer, "veth-q", peerIP)
	serveApp(t, peer, 8080, "peer-app")
	serveApp(t, podA, 8080, "pod-app")
	toPeer, toPodA := netip.AddrPortFrom(peerIP, 8080), netip.AddrPortFrom(podAIP, 8080)

	agent := startServer(t, nil)
	ctx := t.Context()
	podInfoA := Pod{UID: "uid-a", Name: "a", Namespace: "ns1", ServiceAccount: "sa-a"}

	// Enrolled before any ztunnel: rules in place (fail closed), partial add.
	err := agent.AddPod(ctx, podInfoA, podA)
	var partial *PartialAddError
	if !errors.As(err, &partial) || !errors.Is(err, ErrNotConnected) {
		t.Fatalf("AddPod without ztunnel: %v, want a partial add (not connected)", err)
	}
	if got := ask(t, podA, toPeer); !strings.HasPrefix(got, "dial error") {
		t.Errorf("captured pod reached %q with no ztunnel; want a refused dial", got)
	}

	z1 := startZtunnel(t, agent)
	z1.waitReady(t)
	if got := z1.uids(); !slices.Equal(got, []string{"uid-a"}) {
		t.Fatalf("after connect, ztunnel serves %v, want the replayed [uid-a]", got)
	}
	if got := z1.client.Pods()[0]; got.NetnsInode != netnsInode(t, podA) || got.ServiceAccount != "sa-a" {
		t.Errorf("pod status %+v", got)
	}

	t.Run("outbound lands on 15001 with the original destination", func(t *testing.T) {
		if got, want := ask(t, podA, toPeer), "outbound "+toPeer.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("inbound lands on 15006", func(t *testing.T) {
		if got, want := ask(t, peer, toPodA), "inbound "+toPodA.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("inbound HBONE lands on 15008", func(t *testing.T) {
		hb := netip.AddrPortFrom(podAIP, 15008)
		if got, want := ask(t, peer, hb), "hbone "+hb.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("the proxy's marked dial bypasses capture", func(t *testing.T) {
		c, err := z1.h.sockets("uid-a").Dial(ctx, toPeer)
		nstest.Must(t, err)
		if got := readLine(c); !strings.HasPrefix(got, "peer-app ") {
			t.Errorf("marked dial answered %q, want peer-app", got)
		}
	})

	// A pod added while connected is acked before AddPod returns.
	nstest.Must(t, agent.AddPod(ctx, Pod{UID: "uid-b", Name: "b", Namespace: "ns1", ServiceAccount: "sa-b"}, podB))
	if got := z1.uids(); !slices.Equal(got, []string{"uid-a", "uid-b"}) {
		t.Fatalf("ztunnel serves %v after AddPod", got)
	}

	t.Run("a restarted ztunnel gets a full replay", func(t *testing.T) {
		z1.stop()
		if got := ask(t, podA, toPeer); !strings.HasPrefix(got, "dial error") {
			t.Errorf("with ztunnel down the pod reached %q; want fail closed", got)
		}
		z2 := startZtunnel(t, agent)
		z2.waitReady(t)
		if got := z2.uids(); !slices.Equal(got, []string{"uid-a", "uid-b"}) {
			t.Fatalf("restarted ztunnel serves %v", got)
		}
		if got, want := ask(t, podA, toPeer), "outbound "+toPeer.String(); got != want {
			t.Errorf("after restart: %q, want %q", got, want)
		}

		nstest.Must(t, agent.RemovePod(ctx, "uid-a", PodUnenrolled))
		if got := z2.uids(); !slices.Equal(got, []string{"uid-b"}) {
			t.Errorf("after RemovePod ztunnel serves %v", got)
		}
		if got := ask(t, podA, toPeer); !strings.HasPrefix(got, "peer-app ") {
			t.Errorf("unenrolled pod answered %q; want direct to peer-app", got)
		}
		if got := agent.Pods(); len(got) != 1 || got[0].UID != "uid-b" {
			t.Errorf("agent cache %+v", got)
		}
	})
}

// TestOverlappingZtunnels plays the reuseport handoff: the new ztunnel gets
// the snapshot while the old one still serves; adds go to the newest,
// deletes to both.
func TestOverlappingZtunnels(t *testing.T) {
	requireNetns(t)
	podA, podB := nstest.NewNetns(t), nstest.NewNetns(t)
	rec := &recordingRedirector{}
	agent := startServer(t, rec)
	ctx := t.Context()
	nstest.Must(t, errors.Join(ignorePartial(agent.AddPod(ctx, Pod{UID: "uid-a"}, podA))))

	oldZ := startZtunnel(t, agent)
	oldZ.waitReady(t)
	newZ := startZtunnel(t, agent)
	newZ.waitReady(t)
	if !slices.Equal(oldZ.uids(), []string{"uid-a"}) || !slices.Equal(newZ.uids(), []string{"uid-a"}) {
		t.Fatalf("old %v, new %v: both should serve uid-a", oldZ.uids(), newZ.uids())
	}
	if n := agent.Connected(); n != 2 {
		t.Errorf("Connected() = %d", n)
	}
	nstest.Must(t, agent.AddPod(ctx, Pod{UID: "uid-b"}, podB))
	if !slices.Equal(newZ.uids(), []string{"uid-a", "uid-b"}) || slices.Contains(oldZ.uids(), "uid-b") {
		t.Errorf("add went to old %v / new %v; want only the newest", oldZ.uids(), newZ.uids())
	}
	nstest.Must(t, agent.RemovePod(ctx, "uid-a", PodDeleted))
	if slices.Contains(oldZ.uids(), "uid-a") || slices.Contains(newZ.uids(), "uid-a") {
		t.Errorf("delete did not reach both: old %v, new %v", oldZ.uids(), newZ.uids())
	}
	oldZ.stop()
	deadline := time.Now().Add(5 * time.Second)
	for agent.Connected() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := agent.Connected(); n != 1 {
		t.Errorf("after the old ztunnel left, Connected() = %d", n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !slices.Equal(rec.calls, []string{"apply", "apply"}) {
		t.Errorf("redirector calls %v: a deleted pod's rules go with its netns", rec.calls)
	}
}

// TestBadNetnsIsNACKed: ztunnel refuses an fd that is not a netns, and the
// agent reports the NACK as a typed error, keeping the pod for a retry.
func TestBadNetnsIsNACKed(t *testing.T) {
	requireNetns(t)
	agent := startServer(t, &recordingRedirector{})
	z := startZtunnel(t, agent)
	z.waitReady(t)
	devNull, err := os.Open(os.DevNull)
	nstest.Must(t, err)
	defer devNull.Close()
	err = agent.AddPod(t.Context(), Pod{UID: "uid-bad"}, int(devNull.Fd()))
	var nack *AckError
	if !errors.As(err, &nack) || nack.UID != "uid-bad" || !strings.Contains(nack.Message, "not a network namespace") {
		t.Fatalf("AddPod with /dev/null: %v, want an AckError about the netns", err)
	}
	if len(z.uids()) != 0 {
		t.Errorf("ztunnel serves %v", z.uids())
	}
	if got := agent.Pods(); len(got) != 1 {
		t.Errorf("NACKed pod not kept for retry: %+v", got)
	}
	nstest.Must(t, agent.RemovePod(t.Context(), "uid-bad", PodDeleted))
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []Config{{}, {SocketPath: "/x"}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	cfg := DefaultConfig()
	cfg.SocketPath = t.TempDir() + "/zds.sock"
	s, err := New(cfg)
	nstest.Must(t, err)
	nstest.Must(t, s.Close())
	if err := s.AddPod(context.Background(), Pod{UID: "u"}, 0); err == nil {
		t.Error("AddPod on a closed server succeeded")
	}
}

func ignorePartial(err error) error {
	var p *PartialAddError
	if errors.As(err, &p) {
		return nil
	}
	return err
}
