package chat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// Sending our messages: every Send, SendAction and SendTo goes through
// sendMessage, which writes the message to the outbox (outbox.go) and
// queues it on the link (sendLocked), or holds it for a peer that has not
// joined (held.go). What is queued stays pending until Delivered.

// Send sends text as one message to every peer in the conversation, and
// returns (and emits as Sent events) one Sent per peer it was queued for.
// Text that ValidateText refuses, or that plain mode cannot fit in one
// datagram, is not sent to anyone. With a store, each Sent is in the
// outbox (committed to disk) before its first datagram leaves, and stays
// there until the peer has it: this run or a later one sends it (see
// Config.Store); a peer for which it cannot be stored does not get it.
// Like every producer of events, Send waits while Events is full, so do
// not call it from the goroutine that reads Events.
func (n *Node) Send(text string) ([]Sent, error) { return n.send(wire.ChatText, text) }

// SendAction is Send for a /me action, shown by peers as "* NAME TEXT".
func (n *Node) SendAction(text string) ([]Sent, error) { return n.send(wire.ChatAction, text) }

func (n *Node) send(kind wire.ChatKind, text string) ([]Sent, error) {
	return n.sendMessage(kind, text, netip.AddrPort{})
}

// sendMessage sends one message to the peer to, or to every peer in the
// conversation if to is the zero AddrPort, through the outbox: every send
// of a chat message goes through here.
func (n *Node) sendMessage(kind wire.ChatKind, text string, to netip.AddrPort) ([]Sent, error) {
	if err := ValidateText(text); err != nil {
		return nil, err
	}
	id := newID()
	now := time.Now()
	var sent []Sent
	var errs []error
	if err := n.lockOpen(); err != nil {
		return nil, err
	}
	peers := n.membersLocked()
	if n.plain && !to.IsValid() {
		if err := n.plainSkippedLocked(len(peers) == 0); err != nil {
			if len(peers) == 0 {
				n.mu.Unlock()
				n.outMu.Unlock()
				return nil, err
			}
			errs = append(errs, err)
		}
	}
	if len(peers) == 0 && !to.IsValid() {
		n.mu.Unlock()
		n.outMu.Unlock()
		return nil, ErrNoPeers
	}
	name := n.name
	payload, err := n.encodeLocked(kind, id, text)
	if err != nil {
		n.mu.Unlock()
		n.outMu.Unlock()
		return nil, err
	}
	if to.IsValid() {
		p, err := n.recipientLocked(to)
		if err != nil {
			n.mu.Unlock()
			n.outMu.Unlock()
			return nil, err
		}
		peers = []*peer{p}
		if kind == wire.ChatDirect && !p.direct {
			// An older udpchat drops a kind it does not know: it gets
			// the text unmarked. The outbox keeps the kind we meant.
			if payload, err = n.encodeLocked(wire.ChatText, id, text); err != nil {
				n.mu.Unlock()
				n.outMu.Unlock()
				return nil, err
			}
		}
	}
	kept := n.keepsLocked(peers)
	persons := make(map[netip.AddrPort][32]byte, len(peers))
	for _, p := range peers {
		persons[p.addr] = p.person
	}
	n.mu.Unlock()

	// The outbox rule: the message is on disk before its first datagram
	// leaves. Where it cannot be written it is not sent, so that what a
	// peer has is always in our history and a crash never forgets what
	// was sent. (Plain mode only records, and sends regardless.)
	peers = slices.DeleteFunc(peers, func(p *peer) bool {
		err := n.record(kind, id, name, text, now, p.addr, persons[p.addr], kept[p.addr])
		if err == nil {
			return false
		}
		if n.plain {
			errs = append(errs, fmt.Errorf("sent to %s, but not recorded in the history: %w", p.displayName(), err))
			return false
		}
		errs = append(errs, fmt.Errorf("not sent to %s: it could not be stored: %w", p.displayName(), err))
		return true
	})

	var unsent []netip.AddrPort // stored, then not sent: cancelled below
	n.mu.Lock()
	for _, p := range peers {
		if n.closed {
			errs = append(errs, fmt.Errorf("send to %s: %w", p.displayName(), ErrClosed))
			unsent = append(unsent, p.addr)
			continue
		}
		s := Sent{ID: id, To: p.addr, Text: text, Action: kind == wire.ChatAction, Direct: kind == wire.ChatDirect, At: now, Kept: kept[p.addr]}
		if err := n.sendLocked(p, payload, pendingSent{Sent: s, row: PeerKey(p.addr), person: persons[p.addr], name: name}); err != nil {
			errs = append(errs, fmt.Errorf("send to %s: %w", p.displayName(), err))
			unsent = append(unsent, p.addr)
			continue
		}
		sent = append(sent, s)
	}
	evs := make([]Event, len(sent))
	for i, s := range sent {
		evs[i] = s
	}
	t := n.takeTurnLocked()
	n.mu.Unlock()
	if n.store != nil && !n.plain {
		// Send reported these as not sent, so they must not go at the
		// next start either.
		for _, addr := range unsent {
			if !kept[addr] {
				continue
			}
			if err := n.store.Cancel(storeCtx, PeerKey(addr), [16]byte(id)); err != nil {
				errs = append(errs, fmt.Errorf("%s stays in the outbox for %s: %w", id, addr, err))
			}
		}
	}
	n.outMu.Unlock()
	n.emit(t, evs)
	return sent, errors.Join(errs...)
}

// record writes our message to person at to in the store, if there is
// one: in the outbox if kept (see keepsLocked), else in the history only. n.outMu must be
// held.
func (n *Node) record(kind wire.ChatKind, id MessageID, name, text string, at time.Time, to netip.AddrPort, person [32]byte, kept bool) error {
	if n.store == nil {
		return nil
	}
	m := store.Message{ID: id, Peer: PeerKey(to), Kind: int(kind), Name: name, Text: text, At: at, Person: person}
	if !kept {
		return n.store.AddSent(storeCtx, m)
	}
	return n.store.AddOutgoing(storeCtx, m)
}

// encodeLocked builds the payload of one message from us. n.mu must be held
// (it reads n.name).
func (n *Node) encodeLocked(kind wire.ChatKind, id MessageID, text string) ([]byte, error) {
	if n.plain {
		return n.encodePlainLocked(kind, text)
	}
	return wire.AppendChat(nil, wire.ChatMessage{Kind: kind, ID: id, Name: n.name, Text: text})
}

// sendLocked gives payload, our message s, to the link for p — or holds it
// until p joins. n.mu must be held and n.link set; payload must not change
// afterwards.
//
// On a link with identities a peer gets our messages only once it has
// joined this session: once its hello (or any message) passed
// PeerCheck.CheckName. Before that its key is only known to have passed
// the handshake's check, which cannot see the name it will claim; an
// impostor at a new address under a known peer's name would otherwise get
// — and acknowledge — what we sent before its hello was refused. A held
// message waits, pending, as it would for an unreachable peer.
func (n *Node) sendLocked(p *peer, payload []byte, s pendingSent) error {
	if n.peerCheck != nil && !p.joined {
		return n.holdLocked(p, payload, s)
	}
	ref, err := n.link.Send(p.addr, payload)
	if err != nil {
		return err
	}
	if !n.plain {
		n.addPendingLocked(sentRef{peer: p.addr, ref: ref}, s)
	}
	return nil
}

// lockOpen takes n.outMu and then n.mu, as every change to the outbox
// begins, unless the node is closed: then it holds neither and returns
// ErrClosed.
func (n *Node) lockOpen() error {
	n.outMu.Lock()
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.outMu.Unlock()
		return ErrClosed
	}
	return nil
}

func (n *Node) addPendingLocked(r sentRef, s pendingSent) {
	if len(n.pending) == 0 {
		n.drained = make(chan struct{})
	}
	n.sendSeq++
	s.seq = n.sendSeq
	n.pending[r] = s
}

// Undelivered lists what was sent and not yet delivered (nor cancelled),
// oldest first: what a UI reports when it gives up waiting. Without a store
// that is lost; with one it stays in the outbox, and the next start sends
// it again. In plain mode it is always empty, since nothing is
// acknowledged.
func (n *Node) Undelivered() []Sent {
	n.mu.Lock()
	ps := make([]pendingSent, 0, len(n.pending))
	for _, p := range n.pending {
		ps = append(ps, p)
	}
	n.mu.Unlock()
	slices.SortFunc(ps, func(a, b pendingSent) int { return cmp.Compare(a.seq, b.seq) })
	sent := make([]Sent, len(ps))
	for i, p := range ps {
		sent[i] = p.Sent
	}
	return sent
}

// WaitDelivered returns nil once nothing sent is undelivered, or ctx.Err()
// if ctx ends first.
func (n *Node) WaitDelivered(ctx context.Context) error {
	n.mu.Lock()
	drained := n.drained
	n.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
