//go:build !linux

package udp

import "net/netip"

// batcher is empty where there is no recvmmsg and sendmmsg: a Socket there
// is a Conn, not a BatchConn.
type batcher struct{}

func (s *Socket) initBatch(netip.AddrPort) {}
