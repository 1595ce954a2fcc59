package ready

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// childModeEnv makes the test binary act as a workload: "signal" signals and
// exits, "die" exits without signalling.
const childModeEnv = "READY_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childModeEnv) {
	case "signal":
		if err := Signal(); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	case "die":
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}

func TestSignalAndWait(t *testing.T) {
	r, w := mustPipe(t)
	// Signal closes the fd it is given, so hand it a duplicate of w.
	fd, err := syscall.Dup(int(w.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Setenv(EnvFD, strconv.Itoa(fd))
	if err := Signal(); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	if v, ok := os.LookupEnv(EnvFD); ok {
		t.Errorf("%s still set to %q after Signal", EnvFD, v)
	}
	if err := Wait(context.Background(), r); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	// A second Signal is a no-op because the variable is gone.
	if err := Signal(); err != nil {
		t.Fatalf("second Signal: %v", err)
	}
}

func TestSignalWithoutEnvIsNoop(t *testing.T) {
	t.Setenv(EnvFD, "")
	if err := Signal(); err != nil {
		t.Fatal(err)
	}
}

func TestSignalRejectsBadFD(t *testing.T) {
	for _, v := range []string{"x", "1", "-4"} {
		t.Setenv(EnvFD, v)
		if err := Signal(); err == nil {
			t.Errorf("%s=%s: want error", EnvFD, v)
		}
	}
}

func TestWaitPipeClosedWithoutMessage(t *testing.T) {
	r, w := mustPipe(t)
	w.Close()
	if err := Wait(context.Background(), r); !errors.Is(err, ErrExited) {
		t.Fatalf("Wait = %v, want ErrExited", err)
	}
}

func TestWaitPartialMessageThenClose(t *testing.T) {
	r, w := mustPipe(t)
	w.WriteString("rea")
	w.Close()
	if err := Wait(context.Background(), r); !errors.Is(err, ErrExited) {
		t.Fatalf("Wait = %v, want ErrExited", err)
	}
}

func TestWaitRejectsGarbage(t *testing.T) {
	r, w := mustPipe(t)
	defer w.Close()
	w.WriteString("nope\n")
	err := Wait(context.Background(), r)
	if err == nil || errors.Is(err, ErrExited) {
		t.Fatalf("Wait = %v, want unexpected-message error", err)
	}
}

func TestWaitContextExpiry(t *testing.T) {
	r, w := mustPipe(t)
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := Wait(ctx, r); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want DeadlineExceeded", err)
	}
}

// TestChildProcess runs the real protocol across exec: fd inheritance through
// ExtraFiles, and a child that dies before signalling.
func TestChildProcess(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		wantErr error
	}{
		{"signal", nil},
		{"die", ErrExited},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			r, w := mustPipe(t)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childModeEnv+"="+tc.mode, Env(0))
			cmd.ExtraFiles = []*os.File{w}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close() // only the child holds the write end now
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := Wait(ctx, r)
			_ = cmd.Wait()
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Wait = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func mustPipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}
