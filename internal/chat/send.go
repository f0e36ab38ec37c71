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
// returns (and emits as Sent events) one Sent per peer it was queued for:
// one per person, where several chosen addresses are known as one person's
// (see onePerPerson).
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
// of a chat message goes through here or sendMessages.
func (n *Node) sendMessage(kind wire.ChatKind, text string, to netip.AddrPort) ([]Sent, error) {
	r := n.sendMessages(kind, []string{text}, to)
	return r[0].Sent, r[0].Err
}

// SendResult is what became of one line of SendLines: what Send would
// have returned for it.
type SendResult struct {
	Sent []Sent
	Err  error
}

// SendLines sends each of texts as Send does, in order, and says what
// became of each. Lines that came together (a paste, lines piped in) are
// written to the outbox in one commit, not one a line: with a store that
// can (BurstStore), a burst of lines costs one fsync.
func (n *Node) SendLines(texts []string) []SendResult {
	return n.sendMessages(wire.ChatText, texts, netip.AddrPort{})
}

// outgoing is one of our messages on its way through sendMessages.
type outgoing struct {
	kind    wire.ChatKind
	text    string
	id      MessageID
	now     time.Time
	name    string
	payload []byte
	peers   []*peer
	kept    map[netip.AddrPort]bool
	persons map[netip.AddrPort][32]byte
	failed  error   // why it went to no one, before anything was stored
	errs    []error // for some peers
	sent    []Sent
	unsent  []netip.AddrPort // stored, then not sent: cancelled
}

// sendMessages sends each of texts as sendMessage does, storing them all
// first (in one commit, where the store can), then queueing them on the
// link, in order.
func (n *Node) sendMessages(kind wire.ChatKind, texts []string, to netip.AddrPort) []SendResult {
	out := make([]SendResult, len(texts))
	os := make([]*outgoing, len(texts))
	for i, text := range texts {
		os[i] = &outgoing{kind: kind, text: text, failed: ValidateText(text)}
	}
	if err := n.lockOpen(); err != nil {
		for i := range out {
			out[i].Err = cmp.Or(os[i].failed, err)
		}
		return out
	}
	for _, o := range os {
		if o.failed == nil {
			o.failed = n.prepareLocked(o, to)
		}
	}
	n.mu.Unlock()

	// The outbox rule: the message is on disk before its first datagram
	// leaves. Where it cannot be written it is not sent, so that what a
	// peer has is always in our history and a crash never forgets what
	// was sent. (Plain mode only records, and sends regardless.)
	n.recordAll(os)

	n.mu.Lock()
	var evs []Event
	for _, o := range os {
		if o.failed == nil {
			n.dispatchLocked(o)
			for _, s := range o.sent {
				evs = append(evs, s)
			}
		}
	}
	t := n.takeTurnLocked()
	n.mu.Unlock()
	for _, o := range os {
		n.cancelUnsent(o)
	}
	n.outMu.Unlock()
	n.emit(t, evs)
	for i, o := range os {
		out[i] = SendResult{Sent: o.sent, Err: cmp.Or(o.failed, errors.Join(o.errs...))}
	}
	return out
}

// prepareLocked picks o's recipients (to, or every member) and encodes it,
// or says why it goes to no one. n.outMu and n.mu must be held.
func (n *Node) prepareLocked(o *outgoing, to netip.AddrPort) error {
	o.id = newID()
	o.now = time.Now()
	peers := n.membersLocked()
	if n.plain && !to.IsValid() {
		if err := n.plainSkippedLocked(len(peers) == 0); err != nil {
			if len(peers) == 0 {
				return err
			}
			o.errs = append(o.errs, err)
		}
	}
	if len(peers) == 0 && !to.IsValid() {
		return ErrNoPeers
	}
	o.name = n.name
	var err error
	if o.payload, err = n.encodeLocked(o.kind, o.id, o.text); err != nil {
		return err
	}
	if to.IsValid() {
		p, err := n.recipientLocked(to)
		if err != nil {
			return err
		}
		peers = []*peer{p}
	}
	peers = onePerPerson(peers)
	o.peers = peers
	o.kept = n.keepsLocked(peers)
	o.persons = make(map[netip.AddrPort][32]byte, len(peers))
	for _, p := range peers {
		o.persons[p.addr] = p.person
	}
	return nil
}

// onePerPerson keeps, of peers that are known as the same person, the
// one best placed to get a message now: a line goes to each person once,
// since the outbox keeps one row per message and person, and one copy is
// delivered for all (see Node.followLocked). The best placed is the one
// that joined this session, else one in session, else one that answered
// in this run, else the first. Peers whose person is not known stay, one
// an address.
func onePerPerson(peers []*peer) []*peer {
	best := make(map[[32]byte]*peer, len(peers))
	for _, p := range peers {
		if p.person == ([32]byte{}) {
			continue
		}
		if b, ok := best[p.person]; !ok || readiness(p) > readiness(b) {
			best[p.person] = p
		}
	}
	return slices.DeleteFunc(peers, func(p *peer) bool {
		return p.person != ([32]byte{}) && best[p.person] != p
	})
}

// readiness ranks how soon p gets what is sent to it: joined (it gets it
// now), in session, answered in this run, or not heard from.
func readiness(p *peer) int {
	switch {
	case p.joined:
		return 3
	case p.inSession:
		return 2
	case p.answered:
		return 1
	}
	return 0
}

// recordAll writes os to the store, if there is one, and takes out of each
// the peers it could not be stored for: in one commit if the store can,
// else a write each. n.outMu must be held.
func (n *Node) recordAll(os []*outgoing) {
	if bs, ok := n.store.(BurstStore); ok && !n.plain {
		var b store.Burst
		for _, o := range os {
			if o.failed != nil {
				continue
			}
			for _, p := range o.peers {
				m := n.row(o, p.addr)
				if !o.kept[p.addr] {
					m.State = store.Sent
				}
				b.Outgoing = append(b.Outgoing, m)
			}
		}
		if _, err := bs.CommitBurst(storeCtx, b); err != nil {
			for _, o := range os {
				if o.failed != nil {
					continue
				}
				for _, p := range o.peers {
					o.errs = append(o.errs, fmt.Errorf("not sent to %s: it could not be stored: %w", p.displayName(), err))
				}
				o.peers = nil
			}
		}
		return
	}
	for _, o := range os {
		if o.failed != nil {
			continue
		}
		o.peers = slices.DeleteFunc(o.peers, func(p *peer) bool {
			err := n.record(o, p.addr)
			if err == nil {
				return false
			}
			if n.plain {
				o.errs = append(o.errs, fmt.Errorf("sent to %s, but not recorded in the history: %w", p.displayName(), err))
				return false
			}
			o.errs = append(o.errs, fmt.Errorf("not sent to %s: it could not be stored: %w", p.displayName(), err))
			return true
		})
	}
}

// dispatchLocked queues o on the link for each of its peers (or holds it,
// see sendLocked). n.outMu and n.mu must be held.
func (n *Node) dispatchLocked(o *outgoing) {
	for _, p := range o.peers {
		if n.closed {
			o.errs = append(o.errs, fmt.Errorf("send to %s: %w", p.displayName(), ErrClosed))
			o.unsent = append(o.unsent, p.addr)
			continue
		}
		s := Sent{ID: o.id, To: p.addr, Text: o.text, Action: o.kind == wire.ChatAction, Direct: o.kind == wire.ChatDirect, At: o.now, Kept: o.kept[p.addr]}
		if err := n.sendLocked(p, o.payload, pendingSent{Sent: s, row: PeerKey(p.addr), person: o.persons[p.addr], name: o.name}); err != nil {
			o.errs = append(o.errs, fmt.Errorf("send to %s: %w", p.displayName(), err))
			o.unsent = append(o.unsent, p.addr)
			continue
		}
		o.sent = append(o.sent, s)
	}
}

// cancelUnsent takes out of the outbox what was stored for o and then not
// sent: Send reported it as not sent, so it must not go at the next start
// either. n.outMu must be held.
func (n *Node) cancelUnsent(o *outgoing) {
	if n.store == nil || n.plain {
		return
	}
	for _, addr := range o.unsent {
		if !o.kept[addr] {
			continue
		}
		if err := n.store.Cancel(storeCtx, PeerKey(addr), [16]byte(o.id)); err != nil {
			o.errs = append(o.errs, fmt.Errorf("%s stays in the outbox for %s: %w", o.id, addr, err))
		}
	}
}

// row is the store's row of o to to.
func (n *Node) row(o *outgoing, to netip.AddrPort) store.Message {
	return store.Message{ID: o.id, Peer: PeerKey(to), Kind: int(o.kind), Name: o.name, Text: o.text, At: o.now, Person: o.persons[to]}
}

// record writes o to to in the store, if there is one: in the outbox if
// kept (see keepsLocked), else in the history only. n.outMu must be held.
func (n *Node) record(o *outgoing, to netip.AddrPort) error {
	if n.store == nil {
		return nil
	}
	if !o.kept[to] {
		return n.store.AddSent(storeCtx, n.row(o, to))
	}
	return n.store.AddOutgoing(storeCtx, n.row(o, to))
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
//
// A direct message is sent as direct text only to a peer whose features
// say it shows it so, and waits for the peer's features until they are
// known (featurewait.go); what we send the peer after it waits behind it.
func (n *Node) sendLocked(p *peer, payload []byte, s pendingSent) error {
	if n.peerCheck != nil && !p.joined || p.awaitsFeatures {
		return n.holdLocked(p, payload, s)
	}
	if n.awaitsFeaturesLocked(p, s) {
		if err := n.holdLocked(p, payload, s); err != nil {
			return err
		}
		n.awaitFeaturesLocked(p)
		return nil
	}
	payload, err := n.payloadForLocked(p, payload, s)
	if err != nil {
		return err
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
	n.pendingByID[s.ID] = append(n.pendingByID[s.ID], r)
	if s.inMailbox() {
		n.inMailboxes++
	}
	n.settleLocked()
}

// removePendingLocked takes r out of pending: delivered, cancelled or
// given up on.
func (n *Node) removePendingLocked(r sentRef) {
	s, ok := n.pending[r]
	if !ok {
		return // drained is closed already if pending is empty
	}
	n.unindexLocked(r, s.ID)
	if r.held { // never given to the link
		n.heldBytes -= len(s.payload)
	}
	if s.inMailbox() {
		n.inMailboxes--
	}
	if len(n.pending) == 0 {
		close(n.drained)
	}
	n.settleLocked()
}

// rekeyLocked moves s, pending at r, to to: the link took it again under
// another ref. n.mu must be held.
func (n *Node) rekeyLocked(r, to sentRef, s pendingSent) {
	n.unindexLocked(r, s.ID)
	n.pending[to] = s
	n.pendingByID[s.ID] = append(n.pendingByID[s.ID], to)
}

// unindexLocked takes r, pending with id, out of pending and its index.
// n.mu must be held.
func (n *Node) unindexLocked(r sentRef, id MessageID) {
	delete(n.pending, r)
	refs := slices.DeleteFunc(n.pendingByID[id], func(c sentRef) bool { return c == r })
	if len(refs) == 0 {
		delete(n.pendingByID, id)
	} else {
		n.pendingByID[id] = refs
	}
}

// settleLocked keeps settled closed while every pending message is held
// by a relay, open while one is not.
func (n *Node) settleLocked() {
	all := n.inMailboxes == len(n.pending)
	select {
	case <-n.settled:
		if !all {
			n.settled = make(chan struct{})
		}
	default:
		if all {
			close(n.settled)
		}
	}
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
	return waitClosed(ctx, drained)
}

// WaitSettled returns nil once every message sent is delivered or held by
// a relay (IsHeld), which gets it there without us, or ctx.Err() if ctx
// ends first.
func (n *Node) WaitSettled(ctx context.Context) error {
	n.mu.Lock()
	settled := n.settled
	n.mu.Unlock()
	return waitClosed(ctx, settled)
}

func waitClosed(ctx context.Context, c <-chan struct{}) error {
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
