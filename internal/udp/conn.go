// Package udp is the only code that touches a socket: the Conn interface the
// transport reads and writes through (and BatchConn, for a socket that moves
// several datagrams a system call) and the real UDP implementation. The
// in-memory network and the impairment wrapper that tests use are in
// udptest.
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

// Unmap is a as Conn reports addresses: an IPv4 peer by its IPv4 address,
// never as ::ffff:1.2.3.4, so that an address given by a user or another
// layer keys the same map entry as the datagrams from it.
func Unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// Message is one datagram of a batch: for WriteBatch, the bytes and where
// they go; for ReadBatch, a buffer to read into, and then how much was read
// and from where (unmapped, as ReadFrom reports it).
type Message struct {
	Buf  []byte
	N    int
	Addr netip.AddrPort
}

// BatchConn is a Conn that can move several datagrams in one system call
// (recvmmsg and sendmmsg on Linux, with GSO and GRO where the kernel has
// them: a run of datagrams to one peer as one buffer). It is optional: udptest's in-memory
// network and the impairment wrapper implement Conn alone, and users fall
// back to one datagram a call over them. The secure layer implements it over
// any Conn, batching its system calls when the conn below it batches.
//
// ReadBatch blocks until at least one datagram has arrived, then reads as
// many as are waiting, up to len(ms) (an implementation may cap one call
// lower), and returns how many; the part of a
// datagram that does not fit its buffer is lost, as with ReadFrom. After
// Close it returns an error wrapping net.ErrClosed.
//
// WriteBatch sends every message, in order, and returns how many went; a
// message the system refuses (say, to an unreachable address) is skipped,
// and the first such error is returned after the rest have gone.
//
// All methods may be called concurrently; concurrent calls of ReadBatch (or
// of WriteBatch) take turns.
type BatchConn interface {
	Conn
	ReadBatch(ms []Message) (int, error)
	WriteBatch(ms []Message) (int, error)
}
