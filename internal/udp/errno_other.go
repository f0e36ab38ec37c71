//go:build !windows

package udp

import "syscall"

// What bind fails with, by cause; see listenError.
var (
	errnoAddrInUse    = []error{syscall.EADDRINUSE}
	errnoAddrNotAvail = []error{syscall.EADDRNOTAVAIL}
	errnoAccess       = []error{syscall.EACCES, syscall.EPERM}
	errnoNoFamily     = []error{syscall.EAFNOSUPPORT}
)
