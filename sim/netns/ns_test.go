package netns_test

import (
	"errors"
	"net"
	"os"
	"testing"

	"github.com/ambientlab/ambientlab/sim/netns"
	"github.com/ambientlab/ambientlab/sim/sandbox"
)

func TestNewSetupFailureLeavesNothing(t *testing.T) {
	sandbox.Require(t)
	before := netnsInodesHeld(t)
	var inside uint64
	_, err := netns.New(func() error {
		st, err := os.Stat("/proc/thread-self/ns/net")
		if err == nil {
			inside = statIno(st)
		}
		return errors.New("boom")
	})
	if err == nil {
		t.Fatal("New with a failing setup succeeded")
	}
	if inside == 0 {
		t.Fatal("setup did not observe its namespace")
	}
	after := netnsInodesHeld(t)
	if after[inside] {
		t.Errorf("namespace %d still held after failed New", inside)
	}
	if len(after) > len(before) {
		t.Errorf("held namespaces grew from %d to %d after a failed New", len(before), len(after))
	}
}

func TestNSIdentityAndIsolation(t *testing.T) {
	sandbox.Require(t)
	cur, err := netns.Current()
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	a, err := netns.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	dup, err := netns.FromFd(a.Fd())
	if err != nil {
		t.Fatal(err)
	}
	defer dup.Close()
	ia, _ := a.Inode()
	id, _ := dup.Inode()
	ic, _ := cur.Inode()
	if ia != id {
		t.Errorf("FromFd inode %d, want %d", id, ia)
	}
	if ia == ic {
		t.Errorf("New returned the current namespace (%d)", ia)
	}
	// Do runs inside: a fresh namespace has only lo.
	var names []string
	if err := a.Do(func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "lo" {
		t.Errorf("interfaces inside a new namespace = %v, want [lo]", names)
	}
	// A listener in one namespace is invisible from another.
	l, err := a.Listen("tcp4", "127.0.0.1:7070")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if c, err := net.Dial("tcp4", "127.0.0.1:7070"); err == nil {
		c.Close()
		t.Error("dialed a listener of another namespace from the root namespace")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close = %v, want nil (idempotent)", err)
	}
}
