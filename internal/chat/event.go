package chat

import (
	"net/netip"
	"time"
)

// Event is something a UI shows: a message, a delivery, a peer coming or
// going, an error. Node.Events delivers them in the order they happened.
type Event interface{ isEvent() }

// MessageID names one message for its whole life: the sender chooses it at
// random, it travels with the message, and receivers use it to tell a
// retransmission after a restart from a new message.
type MessageID [16]byte

// Message is a message someone sent us.
type Message struct {
	ID     MessageID
	From   netip.AddrPort
	Name   string
	Text   string
	Action bool // a /me action: shown as "* name text"
	// Direct says the sender sent it to us alone (/msg), not to everyone
	// in the conversation.
	Direct bool
	At     time.Time
}

// Sent is one of our own messages, queued for one peer.
type Sent struct {
	ID     MessageID
	To     netip.AddrPort
	Text   string
	Action bool // a /me action
	Direct bool // sent to this peer alone (SendTo)
	At     time.Time
	// Kept says it is in the outbox: if this run ends before the peer has
	// it, the next start sends it again. Otherwise (a peer that has not
	// answered, or that the user did not choose: see Node.Send) it is held
	// in memory only, and recorded in the history as sent.
	Kept bool
}

// Delivered says the peer has our message (on a reliable link: consumed by
// the peer's node, not merely received by its socket).
type Delivered struct {
	ID MessageID
	To netip.AddrPort
}

// Joined says a peer introduced itself: first contact, a restart, or a
// return after it left.
type Joined struct {
	Peer netip.AddrPort
	Name string
	// Fingerprint is the peer's verified key fingerprint (see PeerCheck),
	// "" on a link without keys.
	Fingerprint string
	// Path is how the way to the peer goes, if there is more than one
	// (PeerInfo.Path).
	Path string
}

// Left says a peer said goodbye.
type Left struct {
	Peer netip.AddrPort
	Name string
}

// Unreachable says a peer stopped answering; messages for it wait.
type Unreachable struct {
	Peer netip.AddrPort
	Name string
}

// Reachable says an unreachable peer answers again.
type Reachable struct {
	Peer netip.AddrPort
	Name string
}

// Renamed says a peer changed its display name.
type Renamed struct {
	Peer    netip.AddrPort
	OldName string
	Name    string
}

// Moved says a peer's datagrams come from another address now, From to
// To: a laptop that changed networks, say. It is the same peer in the same
// session (the secure layer checked it: docs/PROTOCOL.md S5.4), so nothing
// else changes: Peer goes on naming it, and what was on its way to it
// follows it to To.
type Moved struct {
	Peer     netip.AddrPort
	Name     string
	From, To netip.AddrPort
	// Path is how the way to the peer goes now, if there is more than one
	// (PeerInfo.Path): a move between the relay and a direct path.
	Path string
}

// StoreRecovered says the store takes messages again after it failed (a
// full disk, say), which an Error said: what arrived meanwhile, held
// unacknowledged by the link and offered again, is stored now.
type StoreRecovered struct{}

// Error is a problem the user should hear about that did not stop the node.
type Error struct {
	Err error
}

func (Message) isEvent()        {}
func (Sent) isEvent()           {}
func (Delivered) isEvent()      {}
func (Joined) isEvent()         {}
func (Left) isEvent()           {}
func (Unreachable) isEvent()    {}
func (Reachable) isEvent()      {}
func (Renamed) isEvent()        {}
func (Moved) isEvent()          {}
func (Error) isEvent()          {}
func (StoreRecovered) isEvent() {}
