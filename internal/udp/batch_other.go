//go:build !linux

package udp

import "net/netip"

// batcher is empty where there is no recvmmsg and sendmmsg: a Socket there
// is a Conn, not a BatchConn.
type batcher struct{}

func (s *Socket) initBatch(netip.AddrPort) {}

// readCoalesced is for sockets whose reads GRO may join, which are Linux's.
func (s *Socket) readCoalesced([]byte) (int, netip.AddrPort, bool, error) {
	return 0, netip.AddrPort{}, false, nil
}

// release is for the buffers of GRO reads, which are Linux's.
func (*batcher) release() {}
