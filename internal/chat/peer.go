package chat

import "net/netip"

// PeerState is where a peer stands, as far as this node knows.
type PeerState uint8

const (
	// PeerConnecting: in the conversation (a --peer address, say) but not
	// heard from yet.
	PeerConnecting PeerState = iota
	// PeerOnline: a session is up.
	PeerOnline
	// PeerUnreachable: it stopped answering; messages for it wait.
	PeerUnreachable
	// PeerLeft: it said goodbye; messages for it wait until it returns.
	PeerLeft
	// PeerPlain: a peer on the plain link, which has no sessions and no
	// acknowledgements, so whether it is there cannot be known.
	PeerPlain
)

// String is the state as a UI shows it in a peer list.
func (s PeerState) String() string {
	switch s {
	case PeerConnecting:
		return "connecting"
	case PeerOnline:
		return "online"
	case PeerUnreachable:
		return "unreachable"
	case PeerLeft:
		return "left"
	case PeerPlain:
		return "plain (no acknowledgements)"
	}
	return "unknown"
}

// PeerInfo is a snapshot of one peer, for a UI's peer list.
type PeerInfo struct {
	Addr  netip.AddrPort
	Name  string // "" until the peer has introduced itself
	State PeerState
	// Fingerprint is the peer's verified key fingerprint, "" on a link
	// without keys or before the peer's key is known.
	Fingerprint string
}

// peer is the node's record of one peer; Node.mu guards it.
type peer struct {
	addr  netip.AddrPort
	name  string
	state PeerState
	// joined says the current session has carried a chat message, so
	// Joined has been emitted for it; PeerUp and PeerClosed reset it. On
	// a link with identities, only a joined peer gets our messages (see
	// Node.sendLocked).
	joined bool
	// held is what waits for this peer to join, in the order it was
	// sent (see Node.sendLocked).
	held []heldSend
	// present says a Joined was emitted and no Left since: only then is
	// the peer's coming and going news to a UI. One that never joined (an
	// impostor whose messages are refused, say) leaves unannounced, where
	// a "left" would tell of a peer the user never saw. PeerUp keeps it:
	// a peer that starts a new session was already announced.
	present bool
	// member says the user has this peer in the conversation: we asked
	// for it (--peer, /connect, a message waiting in the outbox for it) or
	// it joined, and was announced. Only members get what we send to
	// everyone: an address that started a session but never introduced
	// itself under a name we accept (a prober, an impostor refused by
	// trust on first use) hears nothing the user did not see it join for.
	member bool
	// direct says the peer's features, in this session, say it shows a
	// message to it alone as such (wire.FeatureDirect).
	direct bool
	// helloDue says PeerUp came while New was still building the link, so
	// the hello waits until New has the link to send it on.
	helloDue bool
	// chosen says the user asked for this address (Connect): what a
	// plain datagram from another port of its host may be (see
	// plainPeerLocked), and what the plain peer table never evicts.
	chosen bool
	// plain is what plain mode knows of the peer besides.
	plain plainSeen
}

// heldSend is one thing held for a peer: a message of ours (ref, in
// Node.pending), or a hello announcing a new name after the messages sent
// under the old one.
type heldSend struct {
	ref   sentRef
	hello []byte
}

// displayName is how events name the peer: its name, or its address until
// it has one.
func (p *peer) displayName() string {
	if p.name == "" {
		return p.addr.String()
	}
	return p.name
}

// leave marks p as gone until its next chat message, and returns the Left
// to emit, if it had joined.
func (p *peer) leave() []Event {
	wasPresent := p.present
	p.joined, p.present, p.state = false, false, PeerLeft
	if !wasPresent {
		return nil
	}
	return []Event{Left{Peer: p.addr, Name: p.displayName()}}
}

func (p *peer) info() PeerInfo {
	return PeerInfo{Addr: p.addr, Name: p.name, State: p.state}
}
