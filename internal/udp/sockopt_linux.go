package udp

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
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

// setDontFragment sets Don't Fragment on what the socket sends, both
// families (a dual-stack socket sends IPv4 too), best effort: a datagram
// larger than the path is then refused (EMSGSIZE, at once for the local
// link) or dropped on the way, rather than cut into fragments that arrive
// or not together. Path MTU discovery (internal/transport) relies on it: a
// probe that arrives shows the path carries its size, not that the system
// fragmented it. Without it (other systems) a probe may pass fragmented,
// and packets then travel fragmented, as any UDP datagram over the MTU does.
func setDontFragment(c *net.UDPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DO)
	})
}
