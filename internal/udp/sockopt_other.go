//go:build !linux

package udp

import "net"

// setBuffers asks for SocketBufferSize in both directions, best effort: the
// system may grant less, which costs drops under bursts, not correctness.
func setBuffers(c *net.UDPConn) {
	_ = c.SetReadBuffer(SocketBufferSize)
	_ = c.SetWriteBuffer(SocketBufferSize)
}
