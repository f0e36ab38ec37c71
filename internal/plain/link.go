// Package plain is the seed-compatible link: each chat payload is sent as
// one datagram exactly as given (name:text, built by the chat node), and each
// datagram received is handed up as it came. No handshake, acknowledgement,
// retransmission or encryption: what the classic UDP chat scripts and nc -u
// speak.
package plain

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/udp"
)

// maxDatagram is the largest UDP payload there is. The reader's buffer is
// this big so that a long line from a classic script is handed up whole,
// even though udpchat itself sends plain datagrams of at most what its
// peers read (wire.DefaultPlainMax unless told otherwise): UDP silently
// truncates what does not fit.
const maxDatagram = 65535

// A Link reports what it receives to a link.Receiver: the part of
// link.Handler a link without sessions or acknowledgements has anything to
// say to. There is no PeerUp: with no sessions, every address that sends a
// datagram would be a new peer, and a flood of forged sources a flood of
// peers. The link keeps no table of addresses; what is a peer is the
// handler's choice. Plain mode has no acknowledgements, so an error from
// Receive changes nothing.
var _ link.Link = (*Link)(nil)

// Link carries plain datagrams on conn. It owns conn from New on and closes
// it in Close.
type Link struct {
	conn    udp.Conn
	h       link.Receiver
	lastRef atomic.Uint64
	done    chan struct{} // closed when the reader has returned
}

// New starts a Link reading conn and reporting to h, from a goroutine that
// Close stops.
func New(conn udp.Conn, h link.Receiver) *Link {
	l := &Link{conn: conn, h: h, done: make(chan struct{})}
	go l.read()
	return l
}

// read is the link's one goroutine.
func (l *Link) read() {
	defer close(l.done)
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := l.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A real UDP socket reports nothing else that lasts; an error
			// about one datagram (an ICMP echo of an earlier send, on some
			// systems) is no reason to stop listening.
			continue
		}
		l.h.Receive(from, buf[:n])
	}
}

// Connect does nothing but check peer: plain mode has no handshake, a peer
// is just an address datagrams go to.
func (l *Link) Connect(peer netip.AddrPort) error {
	if !peer.IsValid() || peer.Port() == 0 {
		return fmt.Errorf("plain: %s is not a peer address", peer)
	}
	return nil
}

// Send writes msg, exactly, as one datagram to peer. The ref it returns is
// never Delivered: plain mode has no acknowledgements.
func (l *Link) Send(peer netip.AddrPort, msg []byte) (uint64, error) {
	if _, err := l.conn.WriteTo(msg, peer); err != nil {
		return 0, err
	}
	return l.lastRef.Add(1), nil
}

// Close closes the socket, which stops the reader, and waits for the reader
// to return or ctx to end. Plain mode has no way to tell peers we leave.
func (l *Link) Close(ctx context.Context) error {
	err := l.conn.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil // closed before: the reader is stopping all the same
	}
	select {
	case <-l.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LocalAddr is the address of the socket.
func (l *Link) LocalAddr() netip.AddrPort { return l.conn.LocalAddr() }
