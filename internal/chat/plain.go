package chat

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// Plain mode: the node on the plain link, whose datagrams are name:text
// with no kinds, no IDs and no acknowledgements. Here a datagram becomes a
// Message (receivePlain) and our message becomes a datagram
// (encodePlainLocked); who the peers behind the datagrams are is in
// plainpeers.go.

// plainActionPrefix marks a /me action in plain mode, whose datagrams have
// no kinds: "alice:/me waves" reads well in a classic script and turns back
// into an action in udpchat.
const plainActionPrefix = "/me "

// receivePlain shows a plain datagram as it came, split at its first colon.
// An empty one is dropped and counted. One with no name (no colon, or
// nothing before it) is shown under the sender's address, marked
// "(no name)". One that says bye (see IsBye) is shown, and then the peer
// has left; its next datagram makes it join again. With a store it is
// recorded in the history; since nothing is acknowledged, and so nothing
// sent again, it is shown even if that fails.
func (n *Node) receivePlain(from netip.AddrPort, msg []byte) {
	// nc and most scripts end each datagram with a newline: it ends the
	// line, it is not part of the text.
	msg = bytes.TrimSuffix(bytes.TrimSuffix(msg, []byte("\n")), []byte("\r"))
	if len(msg) == 0 {
		n.stats.empty.Add(1)
		n.log.Debug("dropped an empty plain datagram", "peer", from)
		return
	}
	n.stats.received.Add(1)
	rawName, rawText := wire.ParsePlain(msg)
	name := string(rawName)
	text, action := strings.CutPrefix(string(rawText), plainActionPrefix)
	shown := name
	if shown == "" {
		shown = from.String() + " (no name)"
	}
	n.mu.Lock()
	addr := n.plainSenderLocked(from, name)
	n.mu.Unlock()
	// Plain datagrams carry no ID; a local one still lets a UI (and the
	// store) tell messages apart.
	id, now := newID(), time.Now()
	if n.store != nil {
		kind := wire.ChatText
		if action {
			kind = wire.ChatAction
		}
		_, err := n.store.AddIncoming(storeCtx, store.Message{
			ID: id, Peer: PeerKey(addr), Kind: int(kind), Name: shown, Text: text, At: now,
		})
		if err != nil {
			n.storeFailed(fmt.Errorf("a message from %s is not recorded in the history: %w", addr, err))
		} else {
			n.storeWorked()
		}
	}
	n.update(func() []Event {
		p := n.plainPeerLocked(addr)
		n.plainClock++
		p.plain.heard = n.plainClock
		if p.plain.datagrams < 2 {
			p.plain.datagrams++
		}
		if p.plain.datagrams >= 2 {
			p.member = true
		}
		var evs []Event
		switch {
		case !p.joined:
			p.joined, p.present, p.state = true, true, PeerPlain
			if name != "" {
				p.name = name
			}
			evs = append(evs, Joined{Peer: addr, Name: p.displayName()})
		case name != "" && name != p.name:
			evs = append(evs, Renamed{Peer: addr, OldName: p.displayName(), Name: name})
			p.name = name
		}
		evs = append(evs, Message{ID: id, From: addr, Name: shown, Text: text, Action: action, At: now})
		if !action && IsBye(text) {
			evs = append(evs, p.leave()...)
		}
		return evs
	})
}

// encodePlainLocked is the plain datagram of one message from us: our
// name, a colon, the text; an action gets plainActionPrefix, as plain
// datagrams have no kinds. n.mu must be held (it reads n.name).
func (n *Node) encodePlainLocked(kind wire.ChatKind, text string) ([]byte, error) {
	if kind == wire.ChatAction {
		text = plainActionPrefix + text
	}
	return wire.AppendPlain(nil, n.name, text, n.plainMax)
}
