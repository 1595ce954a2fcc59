package sockets

import (
	"errors"
	"syscall"
)

// IsPermission reports whether err comes from a missing capability
// (EPERM/EACCES) or from binding an address the kernel refuses without
// IP_TRANSPARENT (EADDRNOTAVAIL), the cases where a source-preserving dial
// should fall back to a plain one.
func IsPermission(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.EADDRNOTAVAIL)
}
