// Package udp is the only code that touches a socket: the Conn interface the
// transport reads and writes through, the real UDP implementation, an
// in-memory network for tests, and an impairment wrapper (loss, duplication,
// reordering, delay) that tests put between the two.
package udp

import (
	"net/netip"
)

// Conn is a datagram socket as the layers above see it. It is deliberately
// smaller than net.PacketConn: addresses are netip.AddrPort values (no
// allocation per datagram) and there are no deadlines; Close unblocks a
// pending ReadFrom, which then returns an error wrapping net.ErrClosed.
//
// ReadFrom and WriteTo may be called concurrently with each other and with
// Close. Addresses returned by ReadFrom are unmapped (an IPv4 peer appears as
// 1.2.3.4:5, never ::ffff:1.2.3.4:5), so they can be used as map keys.
type Conn interface {
	ReadFrom(b []byte) (n int, addr netip.AddrPort, err error)
	WriteTo(b []byte, addr netip.AddrPort) (int, error)
	LocalAddr() netip.AddrPort
	Close() error
}
