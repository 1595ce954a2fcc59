//go:build unix

package build

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// KernelRelease returns what `uname -r` prints.
func KernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}
