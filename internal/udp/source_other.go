//go:build !linux

package udp

import (
	"net"
	"net/netip"
)

// enableSources returns nil: only Linux reads datagrams' destinations here,
// so elsewhere a socket on a wildcard address answers from the address the
// system picks.
func enableSources(*net.UDPConn, bool) *srcTable { return nil }

func (s *Socket) readMsg(b []byte) (int, netip.AddrPort, error) {
	panic("udp: readMsg without a source table")
}

func (s *Socket) writeMsg(b []byte, addr netip.AddrPort) (int, error) {
	panic("udp: writeMsg without a source table")
}
