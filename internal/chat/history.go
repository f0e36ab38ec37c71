package chat

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// HistoryQuery selects stored messages (see Node.History).
type HistoryQuery struct {
	// Peers keeps the messages exchanged with any of these peers; empty
	// keeps every peer's.
	Peers []netip.AddrPort
	// Search keeps the messages whose text has every word of Search, each
	// as a word or the start of one, ignoring case and diacritics.
	Search string
	// Since keeps the messages at or after it.
	Since time.Time
	// Limit is how many of the newest matches to return; not positive
	// means store.DefaultLimit.
	Limit int
}

// HistoryMessage is one stored message, as a UI shows the history.
type HistoryMessage struct {
	// ID is chosen by the sender; with Peer and Outgoing it names the
	// message.
	ID MessageID
	// Peer is the other side, the recipient of our message or the sender
	// of theirs, as the store names it (PeerKey; PeerAddr turns it back
	// into an address).
	Peer string
	// Outgoing says we sent it.
	Outgoing bool
	// Name is the sender's display name when it was sent.
	Name, Text string
	// Action says it is a /me action; Direct that it went to Peer alone
	// (/msg), from us or to us.
	Action, Direct bool
	// At is when it was sent (ours) or received (theirs).
	At    time.Time
	State MessageState
	// DeliveredAt is when our message was acknowledged; zero until then.
	DeliveredAt time.Time
	// HeldAt is when a relay took our pending message into its
	// recipient's mailbox (mail.go); zero if none holds it.
	HeldAt time.Time
}

// MessageState is where a stored message is in its life: ours start
// pending and become delivered or cancelled; those the outbox does not keep
// (plain mode, a peer that is not kept: see Sent.Kept) are sent, and become
// delivered if the peer acknowledges them while we run. Theirs are received.
type MessageState int

const (
	MessagePending MessageState = iota
	MessageDelivered
	MessageCancelled
	MessageReceived
	MessageSent
)

// String is the state in a word: pending, delivered, cancelled, received or
// sent.
func (s MessageState) String() string {
	switch s {
	case MessagePending:
		return "pending"
	case MessageDelivered:
		return "delivered"
	case MessageCancelled:
		return "cancelled"
	case MessageReceived:
		return "received"
	case MessageSent:
		return "sent"
	}
	return fmt.Sprintf("MessageState(%d)", int(s))
}

// History returns the stored messages q selects, oldest first: what a UI
// shows of a conversation when it opens. Without a store it returns
// nothing.
func (n *Node) History(ctx context.Context, q HistoryQuery) ([]HistoryMessage, error) {
	if n.store == nil {
		return nil, nil
	}
	sq := store.Query{Search: q.Search, Since: q.Since, Limit: q.Limit}
	for _, p := range q.Peers {
		sq.Peers = append(sq.Peers, PeerKey(Unmap(p)))
	}
	ms, err := n.store.History(ctx, sq)
	if err != nil {
		return nil, err
	}
	hs := make([]HistoryMessage, len(ms))
	for i, m := range ms {
		hs[i] = StoredMessage(m)
	}
	return hs, nil
}

// StoredMessage is m, as the store holds it, in the node's terms: for
// udpchat history, which reads the store without a node.
func StoredMessage(m store.Message) HistoryMessage {
	kind := wire.ChatKind(m.Kind)
	return HistoryMessage{
		ID: m.ID, Peer: m.Peer, Outgoing: m.Direction == store.Outgoing,
		Name: m.Name, Text: m.Text,
		Action: kind == wire.ChatAction, Direct: kind == wire.ChatDirect,
		At: m.At, State: messageState(m.State), DeliveredAt: m.DeliveredAt, HeldAt: m.HeldAt,
	}
}

func messageState(s store.State) MessageState {
	switch s {
	case store.Pending:
		return MessagePending
	case store.Delivered:
		return MessageDelivered
	case store.Cancelled:
		return MessageCancelled
	case store.Received:
		return MessageReceived
	case store.Sent:
		return MessageSent
	}
	return MessageState(s) // none other is stored; shown as a number
}

// PeerKey is the name the store knows peer by: its address today. Once
// peers are known by key it becomes the peer's key fingerprint, so that a
// peer that comes back from another address is still the same peer (and its
// retransmissions are still recognised); this function and PeerAddr are
// the only places that know.
//
// Until then a sender that restarts must come back on the same address for
// its receivers to recognise what it sends again: udpchat does, as it
// listens on a fixed port (--listen) by default.
func PeerKey(addr netip.AddrPort) string { return addr.String() }

// PeerAddr is the address of the peer the store names key (see PeerKey), as
// events name it; the zero AddrPort and an error if key is not one.
func PeerAddr(key string) (netip.AddrPort, error) {
	addr, err := netip.ParseAddrPort(key)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("peer %q is not an address", key)
	}
	return Unmap(addr), nil
}

// peerAddr is where to send what the store holds for the peer named key.
func peerAddr(key string) (netip.AddrPort, error) {
	addr, err := PeerAddr(key)
	if err != nil {
		return addr, fmt.Errorf("outbox: %w", err)
	}
	return addr, nil
}

// Unmap is addr as the node names peers: an IPv4 peer by its IPv4 address,
// never as ::ffff:1.2.3.4 (as the socket reports them: udp.Unmap), so that
// an address a user typed is the same peer as the datagrams from it.
func Unmap(addr netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
}
