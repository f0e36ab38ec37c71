package chat

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/udpchat/udpchat/internal/wire"
)

// Introductions: what we tell each peer about ourselves (our name in a
// hello, our features) at the start of each session and when our name
// changes. None of it is a message anyone waits to see delivered.

// SetName changes our display name, remembers it (Config.SaveName) and,
// on a reliable link, tells every peer with a hello (peers show "* OLD is
// now known as NEW"). Plain datagrams carry the name each time, so there is
// nothing to tell. An error says what failed; the name has changed even so.
func (n *Node) SetName(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	n.name = name
	var errs []error
	if !n.plain {
		for _, p := range n.sortedPeersLocked() {
			if !p.member {
				continue // it has not had our name, nor will until it joins
			}
			if len(p.held) > 0 {
				// After what waits, which went under the old name: the
				// peer must end up knowing the new one.
				errs = append(errs, n.holdHelloLocked(p))
				continue
			}
			if p.greeted { // else its greeting, when due, has the new name
				errs = append(errs, n.sendHelloLocked(p.addr))
			}
		}
	}
	n.mu.Unlock()
	if n.saveName != nil { // not under mu: it writes a file
		errs = append(errs, n.saveName(name))
	}
	return errors.Join(errs...)
}

// features are what our ChatFeatures message says udpchat can do.
const features = wire.FeatureDirect

// greetLocked introduces us to p if that is due: p is a member, in session,
// and has not had our hello in this session. n.mu must be held; until New
// has the link, the hello waits (New greets every peer once it has it).
func (n *Node) greetLocked(p *peer) error {
	if !p.member || !p.inSession || p.greeted || n.plain || n.link == nil {
		return nil
	}
	p.greeted = true
	return n.introduceLocked(p.addr)
}

// introduceLocked starts a session's conversation with peer: a hello, and
// our features after it. n.mu must be held and n.link set.
func (n *Node) introduceLocked(peer netip.AddrPort) error {
	if err := n.sendHelloLocked(peer); err != nil {
		return err
	}
	f := features
	if n.sendOnly {
		f += " " + wire.FeatureSendOnly
	}
	// An error cannot happen: n.name passed ValidateName.
	b, err := wire.AppendChat(nil, wire.ChatMessage{Kind: wire.ChatFeatures, ID: newID(), Name: n.name, Text: f})
	if err != nil {
		return err
	}
	return n.sendChatLocked(peer, b)
}

// sendHelloLocked introduces us (or our new name) to peer. n.mu must be
// held and n.link set.
func (n *Node) sendHelloLocked(peer netip.AddrPort) error {
	hello, err := n.helloLocked()
	if err != nil {
		return err
	}
	return n.sendChatLocked(peer, hello)
}

// sendChatLocked sends b, a payload of news about us that no one waits to
// see delivered, to peer. n.mu must be held and n.link set.
func (n *Node) sendChatLocked(peer netip.AddrPort, b []byte) error {
	// The ref is not kept: Delivered ignores refs it does not know.
	if _, err := n.link.Send(peer, b); err != nil {
		return fmt.Errorf("introduce ourselves to %s: %w", peer, err)
	}
	return nil
}

// holdHelloLocked puts a hello with our name in p's held queue, to go in
// its place after the messages held before it. n.mu must be held.
func (n *Node) holdHelloLocked(p *peer) error {
	hello, err := n.helloLocked()
	if err != nil {
		return err
	}
	p.held = append(p.held, heldSend{hello: hello})
	return nil
}

// helloLocked is a hello with our name. n.mu must be held.
func (n *Node) helloLocked() ([]byte, error) {
	// An error cannot happen: n.name passed ValidateName.
	return wire.AppendChat(nil, wire.ChatMessage{Kind: wire.ChatHello, ID: newID(), Name: n.name})
}
