package chat

import (
	"fmt"
	"net/netip"
	"sync"
)

// PeerCheck tells the node who is behind an address, on a link that knows
// (an encrypted one), and whether they may use a display name. cmd/udpchat
// implements it over the secure layer and the known-peers store; it is nil
// on a plain link and in tests that do not care. It checks the peers' keys;
// our own is package identity's, which the node never sees.
type PeerCheck interface {
	// Fingerprint is the verified key fingerprint of peer's current
	// session, or "" if there is none yet.
	Fingerprint(peer netip.AddrPort) string
	// CheckName says whether peer's key may go by name: trust on first use
	// binds a name to the first key that uses it. An error is a warning the
	// user must see; the message is then not accepted.
	CheckName(peer netip.AddrPort, name string) error
}

// warnings remembers the last warning shown for each peer, so that a peer
// that keeps resending what we refuse is reported once, not once a resend.
type warnings struct {
	mu   sync.Mutex
	last map[netip.AddrPort]string
}

// maxWarned bounds the peers warnings remembers.
const maxWarned = 1024

// forget drops what was shown about peer, which the node has forgotten:
// the table must not outgrow the node's own.
func (w *warnings) forget(peer netip.AddrPort) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.last, peer)
}

// first reports whether msg is new for peer, and remembers it.
func (w *warnings) first(peer netip.AddrPort, msg string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last[peer] == msg {
		return false
	}
	if w.last == nil || len(w.last) >= maxWarned {
		// Full (a flood of refused keys from many addresses): start
		// over; at worst a warning is shown a second time.
		w.last = make(map[netip.AddrPort]string)
	}
	w.last[peer] = msg
	return true
}

// Warn shows the user a problem with peer that the node did not find itself
// (the known-peers store refusing a key during a handshake, say). The same
// warning about the same peer is shown once.
func (n *Node) Warn(peer netip.AddrPort, err error) {
	if n.warned.first(peer, err.Error()) {
		n.update(func() []Event { return []Event{Error{Err: err}} })
	}
}

// checkName refuses a message whose name the sender's key may not use,
// warning the user once. The message is not consumed: if the user accepts
// the key (udpchat trust), the sender's next resend goes through.
func (n *Node) checkName(peer netip.AddrPort, name string) error {
	if n.peerCheck == nil {
		return nil
	}
	err := n.peerCheck.CheckName(peer, name)
	if err != nil {
		n.stats.refused.Add(1)
		n.Warn(peer, err)
	}
	return err
}

// MailCheck is a PeerCheck that also checks the name in a mail (mail.go)
// against key, the one that sealed it: mail comes with no session.
type MailCheck interface {
	CheckMailName(peer netip.AddrPort, key [32]byte, name string) error
}

// checkSender is checkName for a message from a session, or (mail not nil)
// sealed by the key *mail. Mail is refused by a PeerCheck that cannot
// check it.
func (n *Node) checkSender(peer netip.AddrPort, mail *[32]byte, name string) error {
	if mail == nil || n.peerCheck == nil {
		return n.checkName(peer, name)
	}
	mc, ok := n.peerCheck.(MailCheck)
	if !ok {
		return fmt.Errorf("mail from %s: this chat cannot check who sent it", peer)
	}
	err := mc.CheckMailName(peer, *mail, name)
	if err != nil {
		n.stats.refused.Add(1)
		n.Warn(peer, err)
	}
	return err
}

// PeerKeys is a PeerCheck that also gives the verified public key of a
// peer's session: the person behind the address. With it the node keeps
// its messages and contacts by person (see PeopleStore), so that a peer
// that comes back from another address is the same person to the outbox.
// cmd/udpchat implements it over the secure layer; a PeerCheck without it
// leaves everything keyed by address, as before.
type PeerKeys interface {
	PeerKey(peer netip.AddrPort) (key [32]byte, ok bool)
}

// personAt is the verified key of peer's current session, zero if there
// is none or the PeerCheck cannot tell. Like PeerCheck's methods it must
// not be called under n.mu (see Peers about lock order).
func (n *Node) personAt(peer netip.AddrPort) [32]byte {
	k, ok := n.peerCheck.(PeerKeys)
	if !ok {
		return [32]byte{}
	}
	key, ok := k.PeerKey(peer)
	if !ok {
		return [32]byte{}
	}
	return key
}

// KnownKeys is a PeerCheck that also knows whose an address is before any
// session there: the key that answered at it before, or the one a relay
// handle was made from (cmd/udpchat: the known peers and the relay path).
// With it a peer the user chooses is a person from the start, so what
// waits for them can go to their mailbox (see ToHold), and the reports name
// them, even if no one answers there: a handle the relay still lists for
// someone who has just gone, say.
type KnownKeys interface {
	KnownKey(peer netip.AddrPort) (key [32]byte, ok bool)
}

// knownPersonAt is the key known for peer before any session there, zero
// if none or the PeerCheck cannot tell. Like PeerCheck's methods it must
// not be called under n.mu (see Peers about lock order).
func (n *Node) knownPersonAt(peer netip.AddrPort) [32]byte {
	k, ok := n.peerCheck.(KnownKeys)
	if !ok {
		return [32]byte{}
	}
	key, ok := k.KnownKey(peer)
	if !ok {
		return [32]byte{}
	}
	return key
}
