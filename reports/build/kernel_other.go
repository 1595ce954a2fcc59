//go:build !unix

package build

import (
	"errors"
	"runtime"
)

// KernelRelease fails off Unix, where ambientlab's backends cannot run.
func KernelRelease() (string, error) {
	return "", errors.New("kernel release is unknown on " + runtime.GOOS)
}
