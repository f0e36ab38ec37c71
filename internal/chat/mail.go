package chat

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// Mailboxes: a message for someone who is not reachable is handed to a
// relay, sealed for them, and held in their mailbox until they come back
// (the relay and the sealing are the caller's: internal/relay/mailclient). The node
// says which messages to hand over (ToHold), records that a relay holds
// one (MarkHeld: a Held event, between Sent and Delivered), takes the
// mail that comes out of our own mailbox (ReceiveMail) and answers it with
// a receipt, which the sender's node takes as delivery. A held message
// stays pending: it is still sent directly if its recipient joins, and
// the recipient drops the copy it gets second.

// Held says a relay holds our message in its recipient's mailbox: it is
// not on their disk yet (that is Delivered), but it no longer needs us to
// be running to get there.
type Held struct {
	ID MessageID
	To netip.AddrPort
}

func (Held) isEvent() {}

// Mail is one of our pending messages to hand to a relay: for Person (at
// To, as sent), Payload being the chat message as the link carries it.
type Mail struct {
	ID      MessageID
	To      netip.AddrPort
	Person  [32]byte
	Payload []byte
}

// ToHold lists our pending messages, oldest first, that are for a known
// person who has not joined this session and sent at least age ago, and
// that no relay holds, or one last said it held again ago: those to hand
// to a relay. Held ones go again because a relay may lose what it holds
// (its data dir emptied, a mailbox older than its --mailbox-age), and
// only a receipt says a message got there; the recipient drops copies.
func (n *Node) ToHold(age, again time.Duration) []Mail {
	now := time.Now()
	n.mu.Lock()
	var ps []pendingSent
	for _, s := range n.pending {
		if s.person == ([32]byte{}) || s.At.After(now.Add(-age)) || s.mailedAt.After(now.Add(-again)) {
			continue
		}
		if p := n.peers[s.To]; p != nil && p.joined {
			continue // in session: the link delivers it
		}
		ps = append(ps, s)
	}
	n.mu.Unlock()
	slices.SortFunc(ps, func(a, b pendingSent) int { return cmp.Compare(a.seq, b.seq) })
	var ms []Mail
	for _, s := range ps {
		kind := wire.ChatText
		switch {
		case s.Action:
			kind = wire.ChatAction
		case s.Direct:
			kind = wire.ChatDirect
		}
		payload, err := wire.AppendChat(nil, wire.ChatMessage{Kind: kind, ID: s.ID, Name: s.name, Text: s.Text})
		if err != nil {
			continue // it was sent so: it encodes
		}
		ms = append(ms, Mail{ID: s.ID, To: s.To, Person: s.person, Payload: payload})
	}
	return ms
}

// MarkHeld records that a relay holds m, in the store first, and emits
// Held, the first time. A message delivered or cancelled meanwhile is left
// as it is.
func (n *Node) MarkHeld(m Mail) error {
	if n.people != nil {
		if err := n.people.MarkHeldBy(storeCtx, m.Person, [16]byte(m.ID)); err != nil {
			return fmt.Errorf("%s is held by the relay, but the store could not record it: %w", m.ID, err)
		}
	}
	n.update(func() []Event {
		var evs []Event
		now := time.Now()
		for r, s := range n.pending {
			if s.ID != m.ID || s.person != m.Person {
				continue
			}
			if !s.inMailbox() {
				n.inMailboxes++
				evs = append(evs, Held{ID: m.ID, To: s.To})
			}
			s.mailedAt = now
			n.pending[r] = s
		}
		n.settleLocked()
		return evs
	})
	return nil
}

// IsHeld says whether a relay holds our pending message id to to.
func (n *Node) IsHeld(id MessageID, to netip.AddrPort) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range n.pending {
		if s.ID == id && s.To == to {
			return s.inMailbox()
		}
	}
	return false
}

// ReceiveMail takes payload, a mail from person out of our mailbox, as if
// it came from from (the handle the caller knows person by). A chat
// message is received as Receive does (stored once: a copy that came
// first directly, or twice by the relay, is not shown again), and receipt
// is the mail to send person back, saying it is on our disk. A receipt is
// taken as delivery of the messages it names. Mail that does not decode,
// or whose sender may not use the name in it, is dropped (counted,
// warned): receipt and err are nil. An error means the message could not
// be stored: the mail is to be kept, and taken again later.
func (n *Node) ReceiveMail(from netip.AddrPort, person [32]byte, payload []byte) (receipt []byte, err error) {
	if wire.IsMailReceipt(payload) {
		ids, err := wire.ParseMailReceipt(payload)
		if err != nil {
			n.stats.undecodable.Add(1)
			n.log.Debug("dropped an undecodable receipt", "peer", from, "err", err)
			return nil, nil
		}
		for _, id := range ids {
			n.deliveredBy(person, MessageID(id))
		}
		return nil, nil
	}
	m, err := wire.ParseChat(payload)
	if err != nil || !isMessage(m.Kind) {
		n.stats.undecodable.Add(1)
		n.log.Debug("dropped undecodable mail", "peer", from, "err", err)
		return nil, nil
	}
	// Checked here too, so that a refusal drops the mail rather than
	// keeping it to be refused again (it is idempotent: receive's check
	// passes the same way).
	if n.checkSender(from, &person, m.Name) != nil {
		return nil, nil
	}
	if err := n.receive(from, payload, &person); err != nil {
		return nil, err
	}
	return wire.AppendMailReceipt(nil, [][16]byte{m.ID})
}

// deliveredBy takes a receipt from person for our message id: delivered,
// wherever it was sent from this run, or in the store alone if it is not
// pending here.
func (n *Node) deliveredBy(person [32]byte, id MessageID) {
	n.mu.Lock()
	var refs []sentRef
	for r, s := range n.pending {
		if s.ID == id && n.recipientOfLocked(r.peer, s) == person {
			refs = append(refs, r)
		}
	}
	n.mu.Unlock()
	for _, r := range refs {
		n.delivered(r)
	}
	if len(refs) == 0 && n.people != nil {
		err := n.people.MarkDeliveredBy(storeCtx, person, [16]byte(id))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			n.update(func() []Event {
				return []Event{Error{Err: fmt.Errorf("%s was delivered, but the store could not record it: %w", id, err)}}
			})
		}
	}
}
