package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestInitArgsRoundTrip(t *testing.T) {
	cases := []initArgs{
		{runID: "abc", nExtra: 0, supervisor: nil},
		{runID: "r1", nExtra: 2, supervisor: []string{"__supervise", "--", "-f", "x.yaml"}},
	}
	for _, want := range cases {
		enc := want.encode()
		if enc[0] != string(modeInit) {
			t.Fatalf("encode()[0] = %q, want the init mode", enc[0])
		}
		got, err := parseInitArgs(enc[1:])
		if err != nil {
			t.Fatalf("parse(%q): %v", enc, err)
		}
		if got.runID != want.runID || got.nExtra != want.nExtra || !slices.Equal(got.supervisor, want.supervisor) {
			t.Errorf("round trip %+v -> %q -> %+v", want, enc, got)
		}
		if got.lifelineFD() != 3+want.nExtra || got.readyFD() != 4+want.nExtra {
			t.Errorf("fds for %d extra files: lifeline %d ready %d", want.nExtra, got.lifelineFD(), got.readyFD())
		}
	}
}

func TestParseInitArgsRejects(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"run"},
		{"run", "1", "x"},    // missing "--"
		{"run", "-1", "--"},  // negative count
		{"run", "two", "--"}, // not a number
	} {
		if _, err := parseInitArgs(args); err == nil {
			t.Errorf("parseInitArgs(%q) succeeded, want error", args)
		}
	}
}

func TestPodExecArgs(t *testing.T) {
	cases := []struct {
		spec PodExecSpec
		want []string
	}{
		{PodExecSpec{Path: "/bin/true"}, []string{"__podexec", "", "", "", "/bin/true", "--", "/bin/true"}},
		{PodExecSpec{Path: "/bin/sh", Args: []string{"sh", "-c", "x"}, ResolvConf: "/r", Hosts: "/h", Hostname: "p"},
			[]string{"__podexec", "/r", "/h", "p", "/bin/sh", "--", "sh", "-c", "x"}},
	}
	for _, tc := range cases {
		if got := tc.spec.podExecArgs(); !slices.Equal(got, tc.want) {
			t.Errorf("podExecArgs(%+v) = %q, want %q", tc.spec, got, tc.want)
		}
		cmd := PodCommand(tc.spec)
		if cmd.SysProcAttr.Pdeathsig == 0 || cmd.SysProcAttr.Unshareflags == 0 {
			t.Errorf("PodCommand must set Pdeathsig and unshare mount+UTS: %+v", cmd.SysProcAttr)
		}
		if cmd.Env == nil {
			t.Error("PodCommand with nil Env must not inherit the supervisor's environment")
		}
	}
}

func TestUserNSModeParse(t *testing.T) {
	for _, m := range []UserNSMode{UserNSAuto, UserNSAlways, UserNSNever} {
		got, err := ParseUserNSMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseUserNSMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseUserNSMode("sometimes"); err == nil {
		t.Error("ParseUserNSMode accepted an unknown mode")
	}
}

func TestProcPPid(t *testing.T) {
	if got := procPPid(os.Getpid()); got != os.Getppid() {
		t.Errorf("procPPid(self) = %d, want %d", got, os.Getppid())
	}
	if got := procPPid(-5); got != 0 {
		t.Errorf("procPPid(nonexistent) = %d, want 0", got)
	}
}

func TestStaleFileChecks(t *testing.T) {
	dir := t.TempDir()
	alive := filepath.Join(dir, "a.pid")
	os.WriteFile(alive, []byte("1\n"), 0o644)
	garbage := filepath.Join(dir, "b.pid")
	os.WriteFile(garbage, []byte("not a pid"), 0o644)
	lock := filepath.Join(dir, "c.lock")
	os.WriteFile(lock, nil, 0o644)
	cases := []struct {
		name  string
		stale bool
		got   bool
	}{
		{"pid 1 is alive", false, pidFileStale(alive)},
		{"garbage pid file", true, pidFileStale(garbage)},
		{"missing pid file", false, pidFileStale(filepath.Join(dir, "none.pid"))},
		{"unheld lock", true, lockStale(lock)},
		{"missing socket", false, socketStale(filepath.Join(dir, "none.sock"))},
	}
	for _, tc := range cases {
		if tc.got != tc.stale {
			t.Errorf("%s: stale = %v, want %v", tc.name, tc.got, tc.stale)
		}
	}
}
