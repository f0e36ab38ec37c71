package chat

import (
	"net/netip"
	"time"
)

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
	Addr netip.AddrPort
	Name string // "" until the peer has introduced itself
	// Announced is the name the peer announces when the user gave it
	// another (Node.Rename), which Name is then; "" otherwise.
	Announced string
	State     PeerState
	// Person is the peer's key, zero if not known (see PeerKeys).
	Person [32]byte
	// Fingerprint is the peer's verified key fingerprint, "" on a link
	// without keys or before the peer's key is known.
	Fingerprint string
	// Endpoint is where the peer is now if it moved away from Addr
	// (roaming: see Moved), zero while it is at Addr. Addr stays its name
	// in every call; At is what to show.
	Endpoint netip.AddrPort
	// Path says how the way to the peer goes, when there is more than one
	// (Config.Paths): "relayed via HOST", "direct (LAN)", "direct"; "" if
	// there is nothing to say.
	Path string
}

// Where is what a UI shows of where the peer is: At, with the Path if
// there is one; only the Path while a relay carries it (At is then a
// handle, no place).
func (p PeerInfo) Where() string {
	switch {
	case p.Path == "":
		return p.At().String()
	case !p.Endpoint.IsValid():
		return p.Path
	}
	return p.At().String() + ", " + p.Path
}

// At is where the peer is now: its Endpoint if it moved, else Addr. It is
// the address a UI shows.
func (p PeerInfo) At() netip.AddrPort {
	if p.Endpoint.IsValid() {
		return p.Endpoint
	}
	return p.Addr
}

// peer is the node's record of one peer; Node.mu guards it.
type peer struct {
	addr netip.AddrPort
	// paths is the node's Config.Paths, for info.
	paths func(peer, endpoint netip.AddrPort) string
	name  string
	state PeerState
	// person is the key of who is at addr, zero if not known: the verified
	// key of the session that joined last, or, before one has, the key
	// that answered there in an earlier run (Config.KnownKeys), that the
	// PeerCheck knows there when the user chooses it (see KnownKeys: a
	// relay handle's), or that the outbox has messages waiting at addr for
	// (see Node.requeueLocked).
	person [32]byte
	// given is the name the user gave the person (Node.Rename), "" for
	// none: what the UIs call them, while name is what they announce.
	given string
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
	// trust on first use) hears nothing the user did not see it join for,
	// not even our hello. A send-only process joins without becoming one.
	member bool
	// direct says the peer's features, in this session, say it shows a
	// message to it alone as such (wire.FeatureDirect).
	direct bool
	// featuresKnown says its features message arrived in this session;
	// featuresLate that a direct message waited featuresWait for it in
	// vain (an older udpchat), so direct messages go as plain text without
	// waiting. awaitsFeatures says a direct message is held for them, and
	// featuresTimer bounds that wait (featurewait.go).
	featuresKnown, featuresLate, awaitsFeatures bool
	featuresTimer                               *time.Timer
	// chosen says the user asked for this address: --peer, /connect, or
	// a message waiting in the outbox for it. It is what a plain datagram
	// from another port of its host may be (see plainPeerLocked), and what
	// the plain peer table never evicts; on a reliable link, only a chosen
	// peer that has answered gets outbox rows (see Node.keepsLocked), and
	// the link keeps it however long it is silent; others are forgotten
	// once silent (PeerGone), so that a flood of contacts leaves nothing.
	chosen bool
	// kept says the user configured the peer to start with (ConnectKept,
	// or the outbox held messages for it): what we send it is kept in the
	// outbox even before it answers.
	kept bool
	// answered says a session with the peer came up in this run (PeerUp):
	// something at that address holds a key and talks to us.
	answered bool
	// inSession says the current session is up: PeerUp set it, and
	// PeerClosed has not happened since.
	inSession bool
	// greeted says our hello went in the current session (see
	// Node.greetLocked).
	greeted bool
	// sendOnly says the peer's features say it only sends (udpchat send):
	// it is shown, but never made a recipient.
	sendOnly bool
	// plain is what plain mode knows of the peer besides.
	plain plainSeen
	// endpoint is where the peer's datagrams come from now, as the link
	// last said (PeerRoamed); zero until it moves.
	endpoint netip.AddrPort
}

// heldSend is one thing held for a peer: a message of ours (ref, in
// Node.pending), or a hello announcing a new name after the messages sent
// under the old one.
type heldSend struct {
	ref   sentRef
	hello []byte
}

// displayName is how events name the peer: the name the user gave it, else
// the one it announced, or its address until it has one.
func (p *peer) displayName() string {
	switch {
	case p.given != "":
		return p.given
	case p.name == "":
		return p.addr.String()
	}
	return p.name
}

// leave marks p as gone until its next chat message, and returns the Left
// to emit, if it had joined.
func (p *peer) leave() []Event {
	wasPresent := p.present
	p.joined, p.present, p.state, p.inSession = false, false, PeerLeft, false
	if !wasPresent {
		return nil
	}
	return []Event{Left{Peer: p.addr, Name: p.displayName()}}
}

func (p *peer) info() PeerInfo {
	info := PeerInfo{Addr: p.addr, Name: p.name, State: p.state, Person: p.person}
	if p.endpoint != p.addr {
		info.Endpoint = p.endpoint
	}
	if p.given != "" {
		info.Name, info.Announced = p.given, p.name
	}
	if p.paths != nil {
		info.Path = p.paths(info.Addr, info.At())
	}
	return info
}
