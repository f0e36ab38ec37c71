package chat

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// Receiving: where a payload the link hands up goes. Receive decodes it
// (plain mode: receivePlain, in plain.go), checks the sender's name,
// stores a message before it is acknowledged, and turns it into Events.

// Receive decodes one payload from peer and emits what it says. A payload
// that does not decode is dropped, counted and logged: one bad peer must
// not stop the chat.
//
// With a store, a message is stored before it is shown and before Receive
// returns nil, which is when the link acknowledges it. One the store
// already has (the peer sent it again, not knowing we had it: we crashed
// before acknowledging it, or it did before hearing the acknowledgement)
// is acknowledged and not shown again. One that cannot be stored is not
// acknowledged: Receive returns the error, the link offers the message
// again later, and the user hears of the trouble once, not once a retry.
// On a link that calls Sync, all of this waits for it (burst.go): Receive
// holds the message, and Sync stores a burst of them at once.
func (n *Node) Receive(from netip.AddrPort, msg []byte) error {
	return n.receive(from, msg, nil)
}

// receive is Receive; mail, if not nil, is the key that sealed msg, a
// mail out of our mailbox (which came with no session to vouch for it).
func (n *Node) receive(from netip.AddrPort, msg []byte, mail *[32]byte) error {
	if n.plain {
		n.receivePlain(from, msg)
		return nil
	}
	if wire.IsRoomPayload(msg) || len(msg) > 0 && wire.IsFileKind(msg[0]) {
		if n.batching.Load() {
			// After what came before it in the burst: the hello that
			// makes its sender someone in the conversation, say, which
			// waits for Sync too. The link reuses msg's memory.
			n.burst.in = append(n.burst.in, heldMessage{from: from, payload: slices.Clone(msg)})
			return nil
		}
		return n.receivePayload(from, msg)
	}
	m, err := wire.ParseChat(msg)
	if err != nil {
		n.stats.undecodable.Add(1)
		n.log.Debug("dropped undecodable chat message", "peer", from, "len", len(msg), "err", err)
		return nil // resending it would not make it decodable
	}
	if err := n.checkSender(from, mail, m.Name); err != nil {
		return err
	}
	n.stats.received.Add(1)
	now := time.Now()
	person := n.personAt(from)
	if mail != nil {
		person = *mail
	}
	// Mail comes on its own goroutine, not the link's: never in a burst.
	if mail == nil && n.batching.Load() {
		// Every kind waits, so that what a burst says is told in order.
		n.burst.in = append(n.burst.in, heldMessage{from: from, m: m, at: now, person: person})
		return nil
	}
	if isMessage(m.Kind) && n.store != nil {
		isNew, err := n.store.AddIncoming(storeCtx, store.Message{
			ID: m.ID, Peer: PeerKey(from), Kind: int(m.Kind), Name: m.Name, Text: m.Text, At: now, Person: person,
		})
		if err != nil {
			n.storeFailed(fmt.Errorf("a message from %s is not stored, so not yet accepted (it will come again): %w", from, err))
			return err
		}
		n.storeWorked()
		if !isNew {
			n.stats.duplicates.Add(1)
			n.log.Debug("message already stored: not shown again", "peer", from, "id", MessageID(m.ID))
			return nil
		}
	}
	if mail != nil {
		if a := n.arrival(from); !a.joined {
			n.showMail(from, m, now, person, a.chosen)
			return nil
		}
	}
	n.show(from, m, now, person)
	return nil
}

// showMail tells of m, a message out of our mailbox from person, who has
// no session with us (from is the handle they are known by): the message
// alone, under the name the user gave them or the one it carries. Mail is
// not presence: no Joined now, so no Left later, and nothing of ours is
// sent to them because of it.
func (n *Node) showMail(from netip.AddrPort, m wire.ChatMessage, now time.Time, person [32]byte, chosen bool) {
	// Not under n.mu: a store write. They are a contact, as a sender.
	given, seenErr := n.sighted(person, m.Name, from, chosen)
	n.update(func() []Event {
		var evs []Event
		if seenErr != nil {
			evs = append(evs, Error{Err: seenErr})
		}
		name := m.Name
		if given != "" {
			name = given
		}
		return append(evs, Message{
			ID: m.ID, From: from, Name: name, Text: m.Text,
			Action: m.Kind == wire.ChatAction, Direct: m.Kind == wire.ChatDirect, At: now,
		})
	})
}

// show tells what m, which came from peer at now and is stored if it is to
// be, says: a peer joined, renamed, its features, a message.
func (n *Node) show(from netip.AddrPort, m wire.ChatMessage, now time.Time, person [32]byte) {
	a := n.arrival(from)
	var fp, given string
	var seenErr error
	renamed := (m.Kind == wire.ChatHello || isMessage(m.Kind)) && m.Name != a.name
	if !a.joined || renamed {
		// Not under n.mu: a store write.
		given, seenErr = n.sighted(person, m.Name, from, a.chosen)
	}
	if !a.joined && n.peerCheck != nil {
		fp = n.peerCheck.Fingerprint(from)
	}
	n.update(func() []Event {
		p := n.peerLocked(from)
		var evs []Event
		if seenErr != nil {
			evs = append(evs, Error{Err: seenErr})
		}
		switch {
		case !p.joined:
			p.joined, p.present, p.state, p.name = true, true, PeerOnline, m.Name
			if person != ([32]byte{}) {
				p.person, p.given = person, given
			}
			// It wrote to us, so it is in the conversation, unless it
			// said it only sends: it will be gone before anyone answers.
			p.member = p.member || !p.sendOnly
			evs = append(evs, Joined{Peer: from, Name: p.displayName(), Fingerprint: fp, Path: p.info().Path})
			if err := n.greetLocked(p); err != nil { // before what was held
				evs = append(evs, Error{Err: err})
			}
			// What waited for the person elsewhere, then here.
			evs = append(evs, n.followLocked(p)...)
			evs = append(evs, n.releaseLocked(p)...)
		case (m.Kind == wire.ChatHello || isMessage(m.Kind)) && m.Name != p.name:
			// A message under a new name may overtake the hello that
			// announces it (sent by /nick before the peer's session was
			// up at the sender, so the hello went later): the name
			// changes before the message is shown under it, either way.
			evs = append(evs, Renamed{Peer: from, OldName: p.name, Name: m.Name})
			p.name = m.Name
		}
		if m.Kind == wire.ChatFeatures {
			evs = append(evs, n.featuresArrivedLocked(p, m.Text)...)
			p.sendOnly = wire.HasFeature(m.Text, wire.FeatureSendOnly)
			if p.sendOnly && !p.chosen {
				// Its features come after its hello, and may come after
				// its message (sent before its session was up), which
				// made it a member.
				p.member = false
			}
		}
		if isMessage(m.Kind) {
			name := m.Name
			if p.given != "" {
				name = p.given // what the user calls them
			}
			evs = append(evs, Message{
				ID: m.ID, From: from, Name: name, Text: m.Text,
				Action: m.Kind == wire.ChatAction, Direct: m.Kind == wire.ChatDirect, At: now,
			})
		}
		return evs
	})
	if !a.joined {
		n.roomsPersonUp(person)
	}
}

// receivePayload hands a room or file payload from peer to what carries
// rooms or files.
func (n *Node) receivePayload(from netip.AddrPort, msg []byte) error {
	if wire.IsRoomPayload(msg) {
		return n.receiveRoom(from, msg)
	}
	n.receiveFile(from, msg)
	return nil
}

// isMessage says whether a chat payload of kind is something a person said,
// to show and to store, rather than news about its sender (a hello, its
// features).
func isMessage(kind wire.ChatKind) bool {
	return kind != wire.ChatHello && kind != wire.ChatFeatures
}

// arrived is what Receive needs to know of a peer before it takes n.mu to
// change it: whether it joined this session already (else a Joined
// follows, with its key's fingerprint, and it is a contact seen), whether
// the user chose its address, and the name it announced.
type arrived struct {
	joined, chosen bool
	name           string
}

// arrival is what is known of peer before a message of its is handled. It
// takes n.mu only briefly, so that PeerCheck and the store are called
// without it: see Peers about lock order. The link's calls to the Handler
// come one at a time, so peer cannot join between this and Receive's
// update.
func (n *Node) arrival(peer netip.AddrPort) arrived {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peers[peer]
	if p == nil {
		return arrived{}
	}
	return arrived{joined: p.joined, chosen: p.chosen, name: p.name}
}

// IsBye reports whether text, a whole line or message, is the word that
// leaves the chat: bye or exit, in any case, with the spaces around it
// ignored. Words that merely contain them ("goodbye", "existing") are
// text. It is the rule for what a user types (command.Parse) and for what
// a plain peer sends: the classic scripts send that line and quit, and
// plain mode has no other sign that a peer has gone.
func IsBye(text string) bool {
	text = strings.TrimSpace(text)
	return strings.EqualFold(text, "bye") || strings.EqualFold(text, "exit")
}

// storeFailed tells the user that the store failed, unless it already did
// and has not worked since.
func (n *Node) storeFailed(err error) {
	n.stats.storeErrors.Add(1)
	n.log.Debug("store", "err", err)
	if n.storeFailing.Swap(true) {
		return
	}
	n.update(func() []Event { return []Event{Error{Err: err}} })
}

// storeWorked says so to the user (StoreRecovered) if the store had
// failed: they were told it did, and may be waiting to hear it works.
func (n *Node) storeWorked() {
	if n.storeFailing.Swap(false) {
		n.update(func() []Event { return []Event{StoreRecovered{}} })
	}
}
