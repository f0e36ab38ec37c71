package udp

import (
	"errors"
	"net"
	"syscall"
)

// setBuffers asks for SocketBufferSize in both directions, best effort.
// Linux silently caps SO_RCVBUF and SO_SNDBUF at net.core.rmem_max and
// wmem_max; the FORCE variants ignore the cap but need CAP_NET_ADMIN, so try
// them first and fall back.
func setBuffers(c *net.UDPConn) {
	rerr, werr := errors.ErrUnsupported, errors.ErrUnsupported
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			rerr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, SocketBufferSize)
			werr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, SocketBufferSize)
		})
	}
	if rerr != nil {
		_ = c.SetReadBuffer(SocketBufferSize)
	}
	if werr != nil {
		_ = c.SetWriteBuffer(SocketBufferSize)
	}
}
