package chat

import (
	"bytes"
	"net/netip"
	"strings"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

// The Node is its Link's Handler: these methods turn what the link reports
// into Events. The link calls them from its own goroutine, one at a time.

var _ Handler = (*Node)(nil)

// plainActionPrefix marks a /me action in plain mode, whose datagrams have
// no kinds: "alice:/me waves" reads well in a classic script and turns back
// into an action in udpchat.
const plainActionPrefix = "/me "

// Receive decodes one payload from peer and emits what it says. A payload
// that does not decode is dropped, counted and logged: one bad peer must
// not stop the chat.
func (n *Node) Receive(from netip.AddrPort, msg []byte) error {
	if n.plain {
		n.receivePlain(from, msg)
		return nil
	}
	m, err := wire.ParseChat(msg)
	if err != nil {
		n.stats.undecodable.Add(1)
		n.log.Debug("dropped undecodable chat message", "peer", from, "len", len(msg), "err", err)
		return nil // resending it would not make it decodable
	}
	n.stats.received.Add(1)
	n.update(func() []Event {
		p := n.peerLocked(from)
		var evs []Event
		switch {
		case !p.joined:
			p.joined, p.state, p.name = true, PeerOnline, m.Name
			evs = append(evs, Joined{Peer: from, Name: m.Name})
		case m.Kind == wire.ChatHello && m.Name != p.name:
			evs = append(evs, Renamed{Peer: from, OldName: p.name, Name: m.Name})
			p.name = m.Name
		}
		if m.Kind != wire.ChatHello {
			evs = append(evs, Message{
				ID: m.ID, From: from, Name: m.Name, Text: m.Text,
				Action: m.Kind == wire.ChatAction, At: time.Now(),
			})
		}
		return evs
	})
	return nil
}

// receivePlain shows a plain datagram as it came, split at its first colon.
// The first datagram from an address makes it a peer. A datagram with no
// name (no colon) is shown under the sender's address.
func (n *Node) receivePlain(from netip.AddrPort, msg []byte) {
	n.stats.received.Add(1)
	rawName, rawText := wire.ParsePlain(msg)
	name := string(rawName)
	// nc and most scripts end each datagram with a newline: it ends the
	// line, it is not part of the text.
	text := string(bytes.TrimSuffix(bytes.TrimSuffix(rawText, []byte("\n")), []byte("\r")))
	text, action := strings.CutPrefix(text, plainActionPrefix)
	n.update(func() []Event {
		p := n.peerLocked(from)
		var evs []Event
		switch {
		case !p.joined:
			p.joined, p.state = true, PeerOnline
			if name != "" {
				p.name = name
			}
			evs = append(evs, Joined{Peer: from, Name: p.displayName()})
		case name != "" && name != p.name:
			evs = append(evs, Renamed{Peer: from, OldName: p.displayName(), Name: name})
			p.name = name
		}
		shown := name
		if shown == "" {
			shown = from.String()
		}
		// Plain datagrams carry no ID; a local one still lets a UI tell
		// messages apart.
		return append(evs, Message{ID: newID(), From: from, Name: shown, Text: text, Action: action, At: time.Now()})
	})
}

// PeerUp starts a new session with peer: its next chat message announces it
// (Joined), and on a reliable link we introduce ourselves with a hello.
func (n *Node) PeerUp(peer netip.AddrPort) {
	n.update(func() []Event {
		p := n.peerLocked(peer)
		p.joined, p.state = false, PeerOnline
		if n.plain {
			return nil
		}
		if n.link == nil {
			p.helloDue = true // New sends it once it has the link
			return nil
		}
		if err := n.sendHelloLocked(peer); err != nil {
			return []Event{Error{Err: err}}
		}
		return nil
	})
}

// Delivered turns the link's ref back into the message it names.
func (n *Node) Delivered(peer netip.AddrPort, ref uint64) {
	n.update(func() []Event {
		r := sentRef{peer, ref}
		s, ok := n.pending[r]
		if !ok {
			return nil // a hello: not a message anyone waits for
		}
		delete(n.pending, r)
		if len(n.pending) == 0 {
			close(n.drained)
		}
		return []Event{Delivered{ID: s.ID, To: peer}}
	})
}

// PeerClosed says peer left on purpose; its next session will announce it
// again.
func (n *Node) PeerClosed(peer netip.AddrPort) {
	n.update(func() []Event {
		p := n.peerLocked(peer)
		p.joined, p.state = false, PeerLeft
		return []Event{Left{Peer: peer, Name: p.displayName()}}
	})
}

// PeerUnreachable says peer stopped answering.
func (n *Node) PeerUnreachable(peer netip.AddrPort) {
	n.update(func() []Event {
		p := n.peerLocked(peer)
		if p.state == PeerUnreachable {
			return nil
		}
		p.state = PeerUnreachable
		return []Event{Unreachable{Peer: peer, Name: p.displayName()}}
	})
}

// PeerReachable says an unreachable peer answers again.
func (n *Node) PeerReachable(peer netip.AddrPort) {
	n.update(func() []Event {
		p := n.peerLocked(peer)
		if p.state != PeerUnreachable {
			return nil
		}
		p.state = PeerOnline
		return []Event{Reachable{Peer: peer, Name: p.displayName()}}
	})
}
