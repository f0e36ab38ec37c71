// Package link says what a link is: what carries opaque messages between a
// chat node and its peers (Link), what the link reports back (Handler), and
// the numbers it may keep about each peer (PeerStats). The reliable
// transport (transport.Endpoint) and the seed-compatible plain link
// (plain.Link) implement it; the chat node consumes it, knowing neither.
package link

import (
	"context"
	"net/netip"
	"time"
)

// Link carries opaque messages between this node and its peers.
//
// A Link reports what happens on it through the Handler it was built with;
// the chat node is that Handler.
type Link interface {
	// Connect starts talking to peer (a handshake, where the link has one).
	// It does not wait for an answer.
	Connect(peer netip.AddrPort) error
	// Send queues msg for peer and returns a reference that a later
	// Handler.Delivered call names. It does not block on the network.
	// msg may be reused by the caller once Send returns.
	Send(peer netip.AddrPort, msg []byte) (ref uint64, err error)
	// Close tells every peer this node is leaving and waits until they have
	// heard it or ctx ends, then releases the socket.
	Close(ctx context.Context) error
	// LocalAddr is the address the link's socket is bound to.
	LocalAddr() netip.AddrPort
}

// Receiver is the part of Handler that every link calls: a link without
// sessions or acknowledgements (the plain link) has nothing else to say.
type Receiver interface {
	// Receive hands over one message from peer. Per peer session, messages
	// come exactly once and in the order they were sent. msg is only valid
	// during the call: its memory is the link's, and is reused.
	//
	// A message the handler cannot take yet (say, it cannot store it)
	// gets an error; a reliable link then keeps it, does not tell the peer
	// it was consumed, and offers it again when the peer resends, so that
	// nothing is lost if, say, the disk is full for a while. On a link
	// without acknowledgements an error changes nothing.
	Receive(peer netip.AddrPort, msg []byte) error
}

// Handler is what a Link calls as things happen. Calls come from the link's
// own goroutine, one at a time, never while it holds a lock that its Send or
// Connect take; a Handler must not block for long and may call the Link's
// Send and Connect.
type Handler interface {
	Receiver
	// Delivered says peer has consumed the message Send returned ref for.
	Delivered(peer netip.AddrPort, ref uint64)
	// PeerUp says a new session with peer began: first contact, or the peer
	// restarted. Messages still undelivered are carried into it.
	PeerUp(peer netip.AddrPort)
	// PeerClosed says peer left on purpose.
	PeerClosed(peer netip.AddrPort)
	// PeerUnreachable says peer stopped answering; what is queued for it waits.
	PeerUnreachable(peer netip.AddrPort)
	// PeerReachable says an unreachable peer answers again.
	PeerReachable(peer netip.AddrPort)
	// PeerGone says the link forgot peer, which it had not been asked to
	// keep (Connect) and which went silent: what was queued for it will
	// not be delivered. If it writes again, it starts a new session.
	PeerGone(peer netip.AddrPort)
}

// BulkSender is a Link that can carry messages that may wait (SendBulk: a
// file's blocks) behind the others: a message sent with Send overtakes the
// bulk messages queued for the same peer that have not begun to go. Bulk
// messages keep their order among themselves, and others among themselves.
type BulkSender interface {
	SendBulk(peer netip.AddrPort, msg []byte) (ref uint64, err error)
}

// Syncer is a Handler that may hold what Receive and Delivered hand it, to
// make a whole burst of it durable at once (one commit, not one a message).
// A link that calls Sync (a SyncingLink) calls it after each burst, before
// it tells any peer that a message of the burst was consumed: a message
// counts as consumed once Receive returned nil for it and a Sync after
// that returned nil. If Sync fails, the handler keeps what it holds, and
// the link calls Sync again later and until then tells no peer more.
type Syncer interface {
	Sync() error
}

// SyncingLink is a Link that calls its Handler's Sync (transport.Endpoint
// does). A handler on another link must not hold what it is handed: no one
// would tell it when to make it durable.
type SyncingLink interface {
	CallsSync()
}

// Roamer is a Handler that wants to hear when a peer moves to another
// address. A link that can tell a peer that moved from a stranger (the
// transport over the secure layer: the peer's datagrams authenticate in its
// session) goes on naming it by the address it first knew it at, its
// handle, in every call; a Roamer hears where it is now.
type Roamer interface {
	// PeerRoamed says that peer's datagrams now come from, and the link's
	// go to, endpoint.
	PeerRoamed(peer, endpoint netip.AddrPort)
}

// Forgetter is a Link that can drop a peer and what is queued for it
// (transport.Endpoint can; the plain link keeps nothing worth dropping).
type Forgetter interface {
	Forget(peer netip.AddrPort) error
}

// Measurer is a Link that keeps numbers about each peer it has a session
// with (transport.Endpoint does; the plain link acknowledges nothing, so
// has nothing to count).
type Measurer interface {
	// PeerStats returns a snapshot of every peer's session, in no
	// particular order. It may ask the link's own goroutine, so it waits
	// for it (bounded by ctx).
	PeerStats(ctx context.Context) ([]PeerStats, error)
}

// PeerStats describe one peer's session: the numbers that show the link at
// work (/stats in the terminal UI).
type PeerStats struct {
	Addr        netip.AddrPort
	Established bool // we know the peer's current incarnation
	Reachable   bool
	Closed      bool // the peer said goodbye
	// SmoothedRTT and MinRTT are the round trips loss recovery uses: they
	// include the time the peer held its acknowledgements.
	SmoothedRTT time.Duration
	MinRTT      time.Duration
	// PathRTT and PathMinRTT are the smoothed and least round trips less
	// the time the peer held its ACKs (up to a millisecond for a lone
	// message): what a person asking "how far is the peer" means. All four
	// are zero until a first sample.
	PathRTT    time.Duration
	PathMinRTT time.Duration
	Window     int // congestion window, bytes
	InFlight   int // bytes sent and not yet acknowledged
	Queued     int // messages not yet delivered
	// MaxPacket is the largest packet the path is known to carry, bytes:
	// the base size until path MTU discovery confirms more (0 before a
	// session). It is the transport's packet, less what layers below add.
	MaxPacket   int
	ProbesLost  uint64 // path MTU probes lost (not in PacketsLost: they carry no data)
	BlackHoles  uint64 // times the path stopped carrying the size found, and packets went back to the base size
	PacketsSent uint64 // path MTU probes included
	PacketsLost uint64 // declared lost
	Retransmits uint64 // chunks sent again
	MessagesIn  uint64 // received
	MessagesOut uint64 // delivered
	BytesIn     uint64
	BytesOut    uint64
	Sessions    uint64 // how many incarnations of the peer we have seen (a restart is one more)
}

// LossRate is the share of packets sent that were declared lost, from 0 to 1.
func (s PeerStats) LossRate() float64 {
	if s.PacketsSent == 0 {
		return 0
	}
	return float64(s.PacketsLost) / float64(s.PacketsSent)
}
