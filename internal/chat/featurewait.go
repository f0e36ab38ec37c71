package chat

import (
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

// A message to one peer alone (SendTo) goes as direct text (kind 4) only to
// a peer whose features say it shows it as such; any other peer gets it as
// plain text, which an older udpchat shows. Which one a peer is, its
// features message says, just after its hello: a direct message to a peer
// whose features have not arrived in this session waits for them (held, in
// order with what we send it after), so that it is not shown to a peer of
// this version as if sent to everyone. An older peer never sends features:
// after featuresWait the message goes to it as plain text.

// featuresWait bounds how long a direct message waits for its peer's
// features: they follow the peer's hello at once, so this is room for a
// lost datagram or two, not for a peer that never sends them.
const featuresWait = 3 * time.Second

// awaitsFeaturesLocked says whether our message s for p must wait for
// p's features. n.mu must be held.
func (n *Node) awaitsFeaturesLocked(p *peer, s pendingSent) bool {
	return s.Direct && !n.plain && !p.featuresKnown && !p.featuresLate
}

// awaitFeaturesLocked notes that a direct message for p waits for its
// features, and starts the bound on that wait. n.mu must be held.
func (n *Node) awaitFeaturesLocked(p *peer) {
	p.awaitsFeatures = true
	if p.featuresTimer != nil {
		return
	}
	addr := p.addr
	p.featuresTimer = time.AfterFunc(featuresWait, func() { n.featuresWaitOver(addr) })
}

// featuresWaitOver sends what waited for the features of the peer at addr
// that has not sent them within featuresWait: an older udpchat.
func (n *Node) featuresWaitOver(addr netip.AddrPort) {
	n.update(func() []Event {
		p, ok := n.peers[addr]
		if !ok || n.closed {
			return nil
		}
		p.stopFeatureWait()
		p.featuresLate = true
		return n.releaseReadyLocked(p)
	})
}

// featuresArrivedLocked records p's features and sends what waited for
// them. n.mu must be held.
func (n *Node) featuresArrivedLocked(p *peer, features string) []Event {
	p.direct = wire.HasFeature(features, wire.FeatureDirect)
	p.featuresKnown = true
	return n.releaseReadyLocked(p)
}

// releaseReadyLocked sends what is held for p, if it waits for nothing
// but p's features (see releaseLocked). n.mu must be held.
func (n *Node) releaseReadyLocked(p *peer) []Event {
	if !p.awaitsFeatures || (n.peerCheck != nil && !p.joined) {
		return nil
	}
	return n.releaseLocked(p)
}

// newSessionFeaturesLocked forgets p's features at the start of a new
// session, which announces them anew; a message still waiting for them
// waits again, bounded again. n.mu must be held.
func (n *Node) newSessionFeaturesLocked(p *peer) {
	p.direct, p.featuresKnown, p.featuresLate = false, false, false
	if p.awaitsFeatures {
		n.awaitFeaturesLocked(p)
	}
}

// payloadForLocked is payload, our message s, as p is to get it: direct
// text to a peer that does not show it as such goes as plain text, with
// the same ID. n.mu must be held.
func (n *Node) payloadForLocked(p *peer, payload []byte, s pendingSent) ([]byte, error) {
	if !s.Direct || n.plain || p.direct {
		return payload, nil
	}
	return wire.AppendChat(nil, wire.ChatMessage{Kind: wire.ChatText, ID: s.ID, Name: s.name, Text: s.Text})
}

// stopFeatureWait is for Close: no timer outlives the node.
func (p *peer) stopFeatureWait() {
	if p.featuresTimer != nil {
		p.featuresTimer.Stop()
		p.featuresTimer = nil
	}
}
