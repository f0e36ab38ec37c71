package chat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// MessageStore is where the node keeps its messages: the history and the
// outbox; *store.MessageDB implements it. Config.Store is nil in plain tests and in
// `udpchat send`, and then nothing is stored.
//
// Every method is committed to disk when it returns: the node writes an
// outgoing message with AddOutgoing before its first datagram leaves (the
// outbox rule), marks it delivered when the peer acknowledges it, and
// stores an incoming message with AddIncoming before it lets the link
// acknowledge it, so that "delivered" means "on the other disk".
type MessageStore interface {
	AddOutgoing(ctx context.Context, m store.Message) error
	// AddSent records an outgoing message the outbox does not keep (plain
	// mode, where nothing is acknowledged; a peer that is not kept, see
	// Sent.Kept): history, never outbox.
	AddSent(ctx context.Context, m store.Message) error
	MarkDelivered(ctx context.Context, peer string, id [16]byte) error
	Cancel(ctx context.Context, peer string, id [16]byte) error
	// CancelPeer cancels everything pending to peer, returning how many.
	CancelPeer(ctx context.Context, peer string) (int, error)
	Pending(ctx context.Context) ([]store.Message, error)
	AddIncoming(ctx context.Context, m store.Message) (isNew bool, err error)
	// History is for a UI that shows a conversation's recent messages.
	History(ctx context.Context, q store.Query) ([]store.Message, error)
	// Unshown and MarkShown keep what a UI has shown: see Node.MarkShown.
	Unshown(ctx context.Context) ([]store.Message, error)
	MarkShown(ctx context.Context, keys []store.Key) error
}

// Durable says whether what the node has not delivered stays in its outbox,
// to go again at the next start: it keeps a store, on a reliable link.
func (n *Node) Durable() bool { return n.store != nil && !n.plain }

var _ MessageStore = (*store.MessageDB)(nil)

// MarkShown records that the UI has written out msgs (to stdout, say), so
// that the next start does not show them again. Storing a message and
// writing it out cannot be one transaction: a UI that dies between the two
// would never show a message whose sender was told it arrived. So what is
// stored stays unshown until MarkShown, and New replays it as Message
// events, before anything new: every message is shown at least once, and
// one written out just before a crash may be shown twice, with the same
// ID. Without a store it does nothing.
func (n *Node) MarkShown(msgs ...Message) error {
	if n.store == nil || len(msgs) == 0 {
		return nil
	}
	keys := make([]store.Key, len(msgs))
	for i, m := range msgs {
		keys[i] = store.Key{Peer: PeerKey(m.From), ID: m.ID}
	}
	return n.store.MarkShown(storeCtx, keys)
}

// unshownEvents are the stored messages that no UI has shown (see
// MarkShown), as the events that show them.
func unshownEvents(ms []store.Message) []Event {
	evs := make([]Event, 0, len(ms))
	for _, m := range ms {
		from, err := peerAddr(m.Peer)
		if err != nil {
			evs = append(evs, Error{Err: fmt.Errorf("a stored message not yet shown: %w", err)})
			continue
		}
		evs = append(evs, Message{
			ID: m.ID, From: from, Name: m.Name, Text: m.Text,
			Action: wire.ChatKind(m.Kind) == wire.ChatAction, Direct: wire.ChatKind(m.Kind) == wire.ChatDirect, At: m.At,
		})
	}
	return evs
}

// storeCtx is the context of store calls: they are local and short, and
// the node has no context of its own to bound them with.
var storeCtx = context.Background()

// Cancelled says one of our messages will not be sent again: Node.Cancel
// took it out of the outbox. If its datagrams were already on their way,
// the peer may still get it, and then a Delivered follows.
type Cancelled struct {
	ID MessageID
	To netip.AddrPort
}

func (Cancelled) isEvent() {}

// ErrNotPending is returned by Cancel for a message that is not waiting
// for delivery: delivered already, cancelled already, or unknown.
var ErrNotPending = errors.New("no message with that ID is waiting for delivery")

// Cancel gives up on our message id to every peer that does not have it
// yet, and returns (and emits as Cancelled events) where it was cancelled.
//
// What Cancel guarantees: the message leaves the outbox, so no later start
// sends it again; WaitDelivered and Undelivered stop counting it; and the
// store keeps it in the history as cancelled. What it cannot: the link has
// no way to take back a message it has queued, so while this node runs, a
// peer that comes back may still get it (its datagrams may be on the wire
// already). If that happens the store records it as delivered after all
// and a Delivered event follows the Cancelled one.
func (n *Node) Cancel(id MessageID) ([]Cancelled, error) {
	if err := n.lockOpen(); err != nil {
		return nil, err
	}
	var refs []sentRef
	sent := make(map[sentRef]pendingSent)
	for r, s := range n.pending {
		if s.ID == id {
			refs = append(refs, r)
			sent[r] = s
		}
	}
	n.mu.Unlock()
	if len(refs) == 0 {
		n.outMu.Unlock()
		return nil, fmt.Errorf("cancel %s: %w", id, ErrNotPending)
	}

	var errs []error
	done := refs[:0]
	for _, r := range refs {
		if n.store != nil && sent[r].Kept {
			if err := n.store.Cancel(storeCtx, sent[r].row, [16]byte(id)); err != nil {
				errs = append(errs, fmt.Errorf("cancel %s to %s: %w", id, sent[r].To, err))
				continue
			}
		}
		done = append(done, r)
	}
	var cancelled []Cancelled
	n.mu.Lock()
	for _, r := range done {
		if !r.held { // a held one never reached the link, so is never delivered
			n.cancelled[r] = n.pending[r]
		}
		n.removePendingLocked(r)
		cancelled = append(cancelled, Cancelled{ID: id, To: sent[r].To})
	}
	evs := make([]Event, len(cancelled))
	for i, c := range cancelled {
		evs[i] = c
	}
	t := n.takeTurnLocked()
	n.mu.Unlock()
	n.outMu.Unlock()
	n.emit(t, evs)
	return cancelled, errors.Join(errs...)
}

// requeue sends again, in the order they were first sent, the messages the
// store still has pending (to a person, where lastSeen says they were last
// seen, if it knows): those of an earlier run that exited, or was
// killed, before their peers had them. They keep their IDs, so a peer that
// had in fact got one recognises it and does not show it twice. The
// returned events (a Sent for each, so the UI can show them pending, and
// an Error for each that cannot be sent) are for the caller to emit.
//
// n.outMu must be held and n.link set.
func (n *Node) requeueLocked(pending []store.Message, lastSeen map[[32]byte]netip.AddrPort) []Event {
	var evs []Event
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range pending {
		addr, err := peerAddr(m.Peer)
		if err != nil {
			evs = append(evs, Error{Err: fmt.Errorf("a message waiting in the outbox cannot be sent: %w", err)})
			continue
		}
		if seen, ok := lastSeen[m.Person]; ok {
			addr = seen // the person moved since it was written
		}
		kind := wire.ChatKind(m.Kind)
		// As kind 4 to a peer that shows it as such (see sendLocked).
		payload, err := wire.AppendChat(nil, wire.ChatMessage{Kind: kind, ID: m.ID, Name: m.Name, Text: m.Text})
		if err != nil {
			evs = append(evs, Error{Err: fmt.Errorf("message %x in the outbox for %s cannot be sent: %w", m.ID, addr, err)})
			continue
		}
		p := n.peerLocked(addr)
		if p.person == ([32]byte{}) {
			p.person = m.Person
		}
		if !p.chosen {
			// We sent it this before: the user chose it, and the link
			// keeps it however long it is silent.
			p.member, p.chosen, p.kept = true, true, true
			if err := n.link.Connect(addr); err != nil {
				evs = append(evs, Error{Err: fmt.Errorf("connect to %s: %w", addr, err)})
			}
			// A session that came up while New ran hears our name
			// before what waited for it.
			if err := n.greetLocked(p); err != nil {
				evs = append(evs, Error{Err: err})
			}
		}
		s := Sent{ID: m.ID, To: addr, Text: m.Text, Action: kind == wire.ChatAction, Direct: kind == wire.ChatDirect, At: m.At, Kept: true}
		if err := n.sendLocked(p, payload, pendingSent{Sent: s, row: m.Peer, person: m.Person, name: m.Name, mailedAt: m.HeldAt}); err != nil {
			evs = append(evs, Error{Err: fmt.Errorf("send %x (from the outbox) to %s: %w; it stays in the outbox", m.ID, addr, err)})
			continue
		}
		evs = append(evs, s)
	}
	return evs
}
