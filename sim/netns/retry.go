package netns

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Bounds for retrying transient netlink failures. The kernel answers EBUSY or
// EAGAIN while it is still tearing down a device with the same name or when
// the rtnl lock is contended by many concurrent namespace operations.
const (
	retryAttempts = 8
	retryFirst    = 2 * time.Millisecond
	retryMax      = 100 * time.Millisecond
)

func isTransient(err error) bool {
	return errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOBUFS) || errors.Is(err, unix.EINTR)
}

// retry runs op until it succeeds, fails with a non-transient error, runs out
// of attempts, or ctx ends. what names the operation for the error message.
func retry(ctx context.Context, what string, op func() error) error {
	delay := retryFirst
	var err error
	for attempt := 0; attempt < retryAttempts; attempt++ {
		if err = op(); err == nil || !isTransient(err) {
			break
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (while retrying after %v)", what, ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, retryMax)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
