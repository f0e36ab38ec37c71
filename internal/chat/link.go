package chat

import (
	"context"
	"net/netip"
)

// Link carries opaque messages between this node and its peers. The reliable
// transport (transport.Endpoint) and the seed-compatible plain link
// (plain.Link) implement it; the Node does not know which it has beyond
// Config.Plain.
//
// A Link reports what happens on it through the Handler it was built with;
// the Node is that Handler.
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

// Handler is what a Link calls as things happen. Calls come from the link's
// own goroutine, one at a time; a Handler must not block for long and may
// call the Link's Send and Connect.
type Handler interface {
	// Receive hands over one message from peer. Per peer session, messages
	// come exactly once and in the order they were sent. msg is only valid
	// during the call.
	// A message the handler cannot take yet (say, it cannot store it)
	// gets an error; a reliable link then offers it again later.
	Receive(peer netip.AddrPort, msg []byte) error
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

// Forgetter is a Link that can drop a peer and what is queued for it
// (transport.Endpoint can; the plain link keeps nothing worth dropping).
type Forgetter interface {
	Forget(peer netip.AddrPort) error
}
