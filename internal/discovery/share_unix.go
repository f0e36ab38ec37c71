//go:build unix

package discovery

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// shareAddr lets every udpchat process on the host bind the beacon port:
// SO_REUSEADDR, which for UDP lets sockets of any user share it, and
// SO_REUSEPORT, which some systems (the BSDs, macOS) need as well.
// Broadcasts and multicasts reach all of them.
func shareAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = errors.Join(
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1))
	})
	return errors.Join(err, serr)
}
