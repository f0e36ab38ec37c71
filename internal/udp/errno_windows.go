package udp

import "syscall"

// What bind fails with, by cause; see listenError. Winsock reports its own
// codes, which syscall.Errno does not match to the POSIX ones.
var (
	errnoAddrInUse    = []error{syscall.Errno(10048)} // WSAEADDRINUSE
	errnoAddrNotAvail = []error{syscall.Errno(10049)} // WSAEADDRNOTAVAIL
	errnoAccess       = []error{syscall.WSAEACCES}
	errnoNoFamily     = []error{syscall.Errno(10047)} // WSAEAFNOSUPPORT
)
