//go:build !linux

package udp

import "net"

// setBuffers asks for SocketBufferSize in both directions, best effort: the
// system may grant less, which costs drops under bursts, not correctness.
func setBuffers(c *net.UDPConn) {
	_ = c.SetReadBuffer(SocketBufferSize)
	_ = c.SetWriteBuffer(SocketBufferSize)
}

// setDontFragment does nothing here: the Linux one (sockopt_linux.go) says
// what it is for. Path MTU probes may then pass fragmented, which costs
// efficiency on a path that fragments, never delivery.
func setDontFragment(*net.UDPConn) {}
