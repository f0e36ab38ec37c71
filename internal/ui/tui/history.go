package tui

import (
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// The earlier conversation: at start the model reads the recent history
// (historyCmd) and shows it dimmed above an "— earlier —" line, so that
// reopening udpchat shows where the conversation was. Our own messages
// there keep their glyphs (✓✓ delivered, ✓ still waiting in the outbox,
// ⊘ cancelled) and are found by ID like live ones, so the Sent, Delivered
// and Cancelled events of the messages the node sends again from its
// outbox at start update them in place rather than show them twice.

const (
	// recentMessages is how many messages of the history the UI shows.
	recentMessages = 50
	// historyRows is how many stored rows it reads for them: the store
	// keeps a message to several peers once per peer.
	historyRows = 4 * recentMessages
	// earlierLabel is the line under the history.
	earlierLabel = "earlier"
)

// msgKey names a peer's message, to show it once: its ID and its sender
// as the store names it (chat.PeerKey).
type msgKey struct {
	id   chat.MessageID
	peer string
}

// noteLive notes a peer's message shown live, and says whether to show it:
// not if the history, read meanwhile, showed it already.
func (m *model) noteLive(ev chat.Message) bool {
	k := msgKey{ev.ID, chat.PeerKey(ev.From)}
	if m.pastIn[k] {
		return false
	}
	if m.liveIn != nil {
		m.liveIn[k] = true
	}
	return true
}

// gotHistory shows the history read at start above what is on screen. Of
// what it read it leaves out what this run shows live: messages stored
// since the model started (ours, and peers' that arrive as events) and
// messages already shown.
func (m *model) gotHistory(msg historyMsg) {
	liveIn := m.liveIn
	m.liveIn = nil
	if msg.err != nil {
		m.add(&entry{kind: entryError, at: time.Now(), text: "the history could not be read: " + msg.err.Error()})
		return
	}
	var past []*entry
	own := make(map[chat.MessageID]*entry)
	for _, r := range msg.msgs {
		if !r.At.Before(m.started) {
			continue
		}
		id := chat.MessageID(r.ID)
		action := wire.ChatKind(r.Kind) == wire.ChatAction
		if r.Direction == store.Outgoing {
			if m.byID[id] != nil {
				continue
			}
			e := own[id]
			if e == nil {
				e = &entry{kind: entryOwn, past: true, at: r.At, name: r.Name, text: r.Text, action: action, id: id}
				if wire.ChatKind(r.Kind) == wire.ChatDirect {
					e.to = r.Peer // the outbox knows the address, not the name
				}
				own[id] = e
				past = append(past, e)
			}
			e.update(storedPeer(r.Peer), storedDelivery(r.State))
			continue
		}
		k := msgKey{id, r.Peer}
		if liveIn[k] {
			continue
		}
		m.pastIn[k] = true
		past = append(past, &entry{kind: entryMessage, past: true, at: r.At, from: storedPeer(r.Peer), name: r.Name, text: r.Text, action: action,
			to: toYou(wire.ChatKind(r.Kind) == wire.ChatDirect)})
	}
	if len(past) > recentMessages {
		past = past[len(past)-recentMessages:]
	}
	if len(past) == 0 {
		return
	}
	// Times of other days need their date; all of them get it then, so
	// that the history stays aligned.
	stamp := ""
	today := time.Now()
	for _, e := range past {
		if y, mo, d := e.at.Date(); y != today.Year() || mo != today.Month() || d != today.Day() {
			stamp = "Jan 02 15:04"
			break
		}
	}
	for _, e := range past {
		e.stamp = stamp
		if e.kind != entryOwn {
			continue
		}
		// Events may have come before the history did.
		m.byID[e.id] = e
		for peer, d := range m.orphans[e.id] {
			e.update(peer, d)
		}
		delete(m.orphans, e.id)
	}
	past = append(past, &entry{kind: entryEarlier, past: true, at: time.Now(), text: earlierLabel})
	m.entries = append(past, m.entries...)
	m.trim()
	m.dirty = true
}

// storedPeer is the address of the peer the store names key (see
// chat.PeerKey), which live events name it by; the zero address if key is
// not one.
func storedPeer(key string) netip.AddrPort {
	addr, err := netip.ParseAddrPort(key)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
}

// storedDelivery is the glyph state of a stored state of ours: a pending
// message waits in the outbox (and goes again at start), as sent.
func storedDelivery(s store.State) delivery {
	switch s {
	case store.Delivered:
		return delivered
	case store.Cancelled:
		return cancelled
	}
	return sent // Pending, and Sent (plain mode: nothing is acknowledged)
}

// hasPast says the transcript begins with history.
func (m *model) hasPast() bool { return len(m.entries) > 0 && m.entries[0].past }
