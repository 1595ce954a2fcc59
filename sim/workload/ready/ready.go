// Package ready is the readiness handshake between the simulator's supervisor and
// a workload process it starts: the supervisor passes the write end of a pipe as
// an inherited fd named by AMBIENTLAB_READY_FD, the workload writes "ready\n" once
// every listener is bound, and the supervisor's Wait returns. A pipe (rather than
// polling ports) means the supervisor learns of a crash immediately: the pipe
// closes without the message. Stdlib only, so any workload binary can use it.
package ready

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// EnvFD is the environment variable naming the inherited fd to signal on.
const EnvFD = "AMBIENTLAB_READY_FD"

const message = "ready\n"

// ErrExited is returned by Wait when the pipe closes without the ready message,
// i.e. the workload exited (or closed the fd) before it was ready.
var ErrExited = errors.New("ready: workload closed the readiness pipe without signalling")

// Signal tells the supervisor the workload is ready. Without EnvFD it does
// nothing, so workloads also run standalone. The variable is removed afterwards
// so a second call is a no-op and child processes do not inherit it.
func Signal() error {
	v := os.Getenv(EnvFD)
	if v == "" {
		return nil
	}
	os.Unsetenv(EnvFD)
	fd, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("ready: %s=%q: %w", EnvFD, v, err)
	}
	// Never write to or close stdio: a misconfigured supervisor must not make the
	// workload close its own stdout.
	if fd < 3 {
		return fmt.Errorf("ready: %s=%d names a stdio fd", EnvFD, fd)
	}
	f := os.NewFile(uintptr(fd), "ambientlab-ready")
	if f == nil {
		return fmt.Errorf("ready: fd %d is not valid", fd)
	}
	_, werr := f.WriteString(message)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("ready: write fd %d: %w", fd, werr)
	}
	if cerr != nil {
		return fmt.Errorf("ready: close fd %d: %w", fd, cerr)
	}
	return nil
}

// Pipe creates the readiness pipe for the supervisor. Pass w to the child in
// exec.Cmd.ExtraFiles (at index i it becomes fd 3+i, see Env), close w in the
// parent right after Start so that the child's exit closes the pipe, and call
// Wait on r.
func Pipe() (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("ready: pipe: %w", err)
	}
	return r, w, nil
}

// Env returns the environment entry for a pipe passed at exec.Cmd.ExtraFiles[extraFilesIndex].
func Env(extraFilesIndex int) string {
	return EnvFD + "=" + strconv.Itoa(3+extraFilesIndex)
}

// Wait blocks until the workload signals readiness (nil), the pipe closes
// without the message (ErrExited), or ctx ends (its error). It does not close r.
// r must be pollable (as returned by Pipe) so that ctx can interrupt the read.
func Wait(ctx context.Context, r *os.File) error {
	// Interrupt the blocking read through the runtime poller instead of a
	// goroutine: a deadline in the past fails the pending Read at once.
	stop := context.AfterFunc(ctx, func() { _ = r.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	var got []byte
	var buf [16]byte
	for {
		n, err := r.Read(buf[:])
		got = append(got, buf[:n]...)
		if bytes.HasPrefix(got, []byte(message)) {
			return nil
		}
		if !bytes.HasPrefix([]byte(message), got) {
			return fmt.Errorf("ready: unexpected readiness message %q", got)
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return ErrExited
		case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
			return fmt.Errorf("ready: waiting for workload: %w", context.Cause(ctx))
		default:
			return fmt.Errorf("ready: read: %w", err)
		}
	}
}
