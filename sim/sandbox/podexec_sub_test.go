package sandbox_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ambientlab/ambientlab/sim/netns"
	"github.com/ambientlab/ambientlab/sim/sandbox"
)

func init() { subtests["podexec"] = podexecSubtest }

// podexecSubtest runs a shell as a pod process in a fresh netns and checks
// hostname, resolv.conf, hosts, env, argv and netns, and that the binds did
// not leak into the supervisor's view.
func podexecSubtest() error {
	dir := sandbox.StateDir()
	resolv := filepath.Join(dir, "resolv.conf")
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(resolv, []byte("nameserver 198.18.16.10\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(hosts, []byte("198.19.0.2 mypod\n"), 0o644); err != nil {
		return err
	}
	before, _ := os.ReadFile("/etc/resolv.conf")
	ns, err := netns.New(nil)
	if err != nil {
		return err
	}
	defer ns.Close()
	var out bytes.Buffer
	cmd := sandbox.PodCommand(sandbox.PodExecSpec{
		Path:       "/bin/sh",
		Args:       []string{"sh", "-c", `echo host=$(cat /proc/sys/kernel/hostname); echo resolv=$(cat /etc/resolv.conf); echo hosts=$(cat /etc/hosts); echo env=$FOO; echo arg=$0; echo net=$(readlink /proc/self/ns/net)`},
		Env:        []string{"FOO=bar"},
		ResolvConf: resolv,
		Hosts:      hosts,
		Hostname:   "mypod",
		Stdout:     &out,
		Stderr:     &out,
	})
	if err := ns.Start(cmd); err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("pod process: %w\n%s", err, out.String())
	}
	ino, _ := ns.Inode()
	want := []string{"host=mypod", "resolv=nameserver 198.18.16.10", "hosts=198.19.0.2 mypod", "env=bar", "arg=sh", fmt.Sprintf("net=net:[%d]", ino)}
	for _, w := range want {
		if !strings.Contains(out.String(), w+"\n") {
			return fmt.Errorf("pod output lacks %q:\n%s", w, out.String())
		}
	}
	after, _ := os.ReadFile("/etc/resolv.conf")
	if !bytes.Equal(before, after) {
		return fmt.Errorf("pod's resolv.conf bind leaked into the supervisor's mount namespace")
	}
	fmt.Print(out.String())
	return nil
}
