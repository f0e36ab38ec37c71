package tui

import (
	"net/netip"
	"slices"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
)

// The earlier conversation: at start the model reads the recent history
// (historyCmd) and the transcript shows it dimmed above an "— earlier —"
// line, so that reopening udpchat shows where the conversation was. Our
// own messages there keep their glyphs (✓✓ delivered, ✓ still waiting in
// the outbox, ⊘ cancelled) and are found by ID like live ones, so the
// Sent, Delivered and Cancelled events of the messages the node sends
// again from its outbox at start update them in place rather than show
// them twice.

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
func (t *transcript) noteLive(ev chat.Message) bool {
	k := msgKey{ev.ID, chat.PeerKey(ev.From)}
	if t.pastIn[k] {
		return false
	}
	if t.liveIn != nil {
		t.liveIn[k] = true
	}
	return true
}

// gotHistory shows the history read at start above what is on screen. Of
// what it read it leaves out what this run shows live: messages stored
// since the model started (ours, and peers' that arrive as events) and
// messages already shown.
func (t *transcript) gotHistory(msg historyMsg) {
	liveIn, replayed := t.liveIn, t.replayed
	t.liveIn, t.replayed = nil, nil
	if msg.err != nil {
		t.addError("the history could not be read: " + msg.err.Error())
		for _, ev := range replayed {
			t.add(messageEntry(ev))
		}
		return
	}
	// What no UI showed is added from replayed below, after the cut to
	// the recent messages, which must not drop it.
	unseen := make(map[msgKey]bool, len(replayed))
	for _, ev := range replayed {
		unseen[msgKey{ev.ID, chat.PeerKey(ev.From)}] = true
	}
	var past []*entry
	keys := make(map[*entry]msgKey) // peers' messages in past
	own := make(map[chat.MessageID]*entry)
	for _, r := range msg.msgs {
		if !r.At.Before(t.started) {
			continue
		}
		id := r.ID
		action := r.Action
		if r.Outgoing {
			if t.byID[id] != nil {
				continue
			}
			e := own[id]
			if e == nil {
				e = &entry{kind: entryOwn, past: true, at: r.At, name: r.Name, text: r.Text, action: action, id: id}
				if r.Direct {
					e.to = r.Peer // the outbox knows the address, not the name
				}
				own[id] = e
				past = append(past, e)
			}
			e.update(storedPeer(r.Peer), storedDelivery(r.State))
			continue
		}
		k := msgKey{id, r.Peer}
		if liveIn[k] || unseen[k] {
			continue
		}
		e := &entry{kind: entryMessage, past: true, at: r.At, from: storedPeer(r.Peer), name: r.Name, text: r.Text, action: action,
			to: toYou(r.Direct)}
		keys[e] = k
		past = append(past, e)
	}
	if len(past) > recentMessages {
		past = past[len(past)-recentMessages:]
	}
	// Only what is shown counts as shown: a message cut here that the
	// node replays later (no UI showed it) is shown then.
	for _, e := range past {
		if k, ok := keys[e]; ok {
			t.pastIn[k] = true
		}
	}
	// A message no UI showed is shown even if it is older than the recent
	// ones: that it was never seen is the point.
	for _, ev := range replayed {
		k := msgKey{ev.ID, chat.PeerKey(ev.From)}
		if t.pastIn[k] {
			continue
		}
		t.pastIn[k] = true
		e := messageEntry(ev)
		e.past = true
		past = append(past, e)
	}
	slices.SortStableFunc(past, func(a, b *entry) int { return a.at.Compare(b.at) })
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
		t.byID[e.id] = e
		for peer, d := range t.orphans[e.id] {
			e.update(peer, d)
		}
		delete(t.orphans, e.id)
	}
	past = append(past, &entry{kind: entryEarlier, past: true, at: time.Now(), text: earlierLabel})
	t.entries = append(past, t.entries...)
	t.trim()
	t.dirty = true
}

// showReplayed shows a message of an earlier run that no UI showed (the
// node hands such messages over at start): in the history, where it
// belongs, not as if it came now. While the history is being read it waits
// for gotHistory, which places it.
func (t *transcript) showReplayed(ev chat.Message) {
	if t.liveIn != nil {
		t.replayed = append(t.replayed, ev)
		return
	}
	k := msgKey{ev.ID, chat.PeerKey(ev.From)}
	if t.pastIn[k] {
		return
	}
	t.pastIn[k] = true
	e := messageEntry(ev)
	e.past = true
	// Above the "— earlier —" line, which it makes if there is none yet.
	end := 0
	for end < len(t.entries) && t.entries[end].past && t.entries[end].kind != entryEarlier {
		end++
	}
	if end == len(t.entries) || t.entries[end].kind != entryEarlier {
		t.entries = slices.Insert(t.entries, 0, &entry{kind: entryEarlier, past: true, at: time.Now(), text: earlierLabel})
		end = 0
	}
	i := end
	for i > 0 && t.entries[i-1].at.After(e.at) {
		i--
	}
	if end > 0 {
		e.stamp = t.entries[max(i, 1)-1].stamp
	}
	t.entries = slices.Insert(t.entries, i, e)
	t.trim()
	t.dirty = true
}

// messageEntry is how a peer's message is shown.
func messageEntry(ev chat.Message) *entry {
	return &entry{kind: entryMessage, at: ev.At, from: ev.From, name: ev.Name, text: ev.Text, action: ev.Action, to: toYou(ev.Direct)}
}

// storedPeer is the address of the peer the store names key (see
// chat.PeerKey), which live events name it by; the zero address if key is
// not one.
func storedPeer(key string) netip.AddrPort {
	addr, _ := chat.PeerAddr(key)
	return addr
}

// storedDelivery is the glyph state of a stored state of ours: a pending
// message waits in the outbox (and goes again at start), as sent.
func storedDelivery(s chat.MessageState) delivery {
	switch s {
	case chat.MessageDelivered:
		return delivered
	case chat.MessageCancelled:
		return cancelled
	}
	return sent // Pending, and Sent (plain mode: nothing is acknowledged)
}

// hasPast says the transcript begins with history.
func (t *transcript) hasPast() bool { return len(t.entries) > 0 && t.entries[0].past }
