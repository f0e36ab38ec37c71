package rooms

import (
	"cmp"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// Receive handles a room datagram that arrived from peer over their
// authenticated pairwise session. What does not parse or check out is
// dropped and counted (Stats); the error says why, for logs.
func (n *Node) Receive(from keys.PublicKey, b []byte) error { return n.ReceiveLabeled(from, b, "") }

// ReceiveLabeled is Receive of a datagram that came with label, the
// sender's name for the room (R0): an invitation waiting for consent keeps
// it (Invitations), for the chat to offer the room by.
func (n *Node) ReceiveLabeled(from keys.PublicKey, b []byte, label string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stats.Received++
	d, err := wire.ParseRoom(b)
	if err != nil {
		n.stats.Drops[DropMalformed]++
		return err
	}
	n.receivingLabel = label
	defer func() { n.receivingLabel = "" }()
	return n.receive(from, &d, false)
}

var (
	errDropNotMember = errors.New("rooms: not a member")
	errDropStale     = errors.New("rooms: stale or duplicate")
	errDropOverflow  = errors.New("rooms: buffer full")
)

// drop counts reason and returns err.
func (n *Node) drop(reason DropReason, err error) error {
	n.stats.Drops[reason]++
	return err
}

func (n *Node) receive(from keys.PublicKey, d *wire.RoomDatagram, forwarded bool) error {
	if d.Type == wire.RoomBinding {
		if forwarded || !verifyBinding(d.Key, from, d.Sig[:]) {
			return n.drop(DropForged, ErrForged)
		}
		n.bindings[from] = d.Key
		for _, id := range n.roomOrder() {
			r := n.rooms[id]
			if i, ok := r.index[from]; ok && r.members[i].sign != d.Key {
				// The log says another key speaks for this person: the
				// founder wrote a key that is not theirs, or they changed it.
				n.events = append(n.events, Event{Kind: EventFork, Room: id, Member: from})
			}
		}
		return nil
	}
	r := n.rooms[RoomID(d.Room)]
	if r == nil {
		if d.Type == wire.RoomLog && !forwarded {
			return n.invited(from, d)
		}
		return n.drop(DropUnknownRoom, ErrNoRoom)
	}
	fi, known := r.index[from]
	if !known {
		return n.drop(DropNotMember, errDropNotMember)
	}
	current := r.isMember(fi, r.version())
	switch d.Type {
	case wire.RoomMessage:
		return n.onMessage(r, fi, d)
	case wire.RoomKey:
		return n.onKey(r, d)
	case wire.RoomLog:
		if n.cfg.AskToJoin && !forwarded && !r.isMember(r.self, r.version()) {
			return n.invited(from, d) // back into a room this user was removed from: it says yes first
		}
		if err := n.applyLog(r, d.Entries); err != nil {
			if errors.Is(err, errFork) {
				n.events = append(n.events, Event{Kind: EventFork, Room: r.id, Member: from})
			}
			return n.drop(DropForged, err)
		}
		n.retryPending(r)
		return nil
	}
	if !current {
		// A removed member still learns that it was removed.
		if d.Type == wire.RoomStatus && d.Epoch < r.version() {
			n.out = append(n.out, Outgoing{To: from, Datagram: r.logDatagram(int(d.Epoch))})
		}
		return n.drop(DropNotMember, errDropNotMember)
	}
	switch d.Type {
	case wire.RoomStatus:
		return n.onStatus(r, fi, d)
	case wire.RoomAck:
		s, ok := r.index[d.Peer]
		if !ok {
			return n.drop(DropNotMember, errDropNotMember)
		}
		n.noteAck(r, fi, s, d.Seq)
	case wire.RoomGapRequest:
		return n.onGapRequest(r, fi, d)
	case wire.RoomKeyRequest:
		return n.onKeyRequest(r, fi, d)
	case wire.RoomLogRequest:
		if d.Epoch >= 1 && d.Epoch <= r.version() {
			n.sendTo(r, fi, r.logDatagram(int(d.Epoch-1)), true)
		}
	case wire.RoomHistoryRequest:
		return n.onHistoryRequest(r, fi, d)
	case wire.RoomHistory:
		return n.onHistory(r, d)
	case wire.RoomLeave:
		return n.onLeave(r, fi, d)
	case wire.RoomForwardTo:
		return n.onForwardTo(r, fi, d, forwarded)
	case wire.RoomForwardedFrom:
		if forwarded {
			return n.drop(DropMalformed, wire.ErrMalformed)
		}
		inner, err := wire.ParseRoom(d.Body)
		if err != nil || inner.Room != d.Room || inner.Type == wire.RoomForwardTo || inner.Type == wire.RoomForwardedFrom {
			return n.drop(DropMalformed, wire.ErrMalformed)
		}
		return n.receive(d.Peer, &inner, true)
	}
	return nil
}

// invited joins a room from its log, sent by its founder: the whole log,
// verified, with this user in it. One that waits for consent is kept, so
// that it outlives a restart.
func (n *Node) invited(from keys.PublicKey, d *wire.RoomDatagram) error {
	id := RoomID(d.Room)
	r, err := n.invitation(id, n.onInvitation(id, d.Entries))
	if errors.Is(err, errDropNotMember) {
		if old := n.invites[id]; old != nil && old.roster[0] == from {
			// Removed before saying yes: the invitation goes.
			delete(n.invites, id)
			if err := n.cfg.Storage.DropInvitation(id); err != nil {
				return err
			}
		}
		return n.drop(DropNotMember, err)
	} else if err != nil {
		return n.drop(DropForged, err)
	}
	if r.roster[0] != from {
		return n.drop(DropNotMember, errDropNotMember)
	}
	if !n.cfg.AskToJoin {
		return n.join(r)
	}
	if old := n.invites[r.id]; old != nil && old.version() >= r.version() {
		return nil
	}
	r.offer = n.receivingLabel
	if old := n.invites[r.id]; old != nil && r.offer == "" {
		r.offer = old.offer
	}
	b, _ := wire.AppendRoom(nil, d)
	if err := n.cfg.Storage.PutInvitation(Invitation{Room: r.id, Label: r.offer, Log: b}); err != nil {
		return err
	}
	n.invites[r.id] = r
	n.events = append(n.events, Event{Kind: EventInvited, Room: r.id})
	return nil
}

// onInvitation returns entries as a whole log: those that go on from a
// pending invitation's log (its founder's news of a change since) after
// the ones of it they follow, else entries as they are.
func (n *Node) onInvitation(id RoomID, entries [][]byte) [][]byte {
	old := n.invites[id]
	if old == nil || len(entries) == 0 {
		return entries
	}
	e, err := wire.ParseRoomLogEntry(entries[0])
	if err != nil || e.Version < 2 || e.Version > old.version()+1 {
		return entries
	}
	return append(slices.Clone(old.log[:e.Version-1]), entries...)
}

// invitation verifies entries as a whole log, from the creation on, that
// has this user as a member at its end.
func (n *Node) invitation(id RoomID, entries [][]byte) (*room, error) {
	r := newRoom(id)
	for _, raw := range entries {
		e, err := wire.ParseRoomLogEntry(raw)
		if err != nil {
			return nil, err
		}
		if err := r.verifyEntry(&e, raw); err != nil {
			return nil, err
		}
		r.applyEntry(&e, raw, n.cfg.Self, n.cfg.Now())
	}
	if len(r.roster) == 0 || r.self < 0 || !r.isMember(r.self, r.version()) {
		return nil, errDropNotMember
	}
	return r, nil
}

// loadInvitations takes back the invitations kept, verified again, but for
// rooms this user is in already (joined just before a crash).
func (n *Node) loadInvitations() error {
	invs, err := n.cfg.Storage.Invitations()
	if err != nil {
		return err
	}
	for _, inv := range invs {
		d, err := wire.ParseRoom(inv.Log)
		var r *room
		if err == nil {
			r, err = n.invitation(inv.Room, d.Entries)
		}
		if old := n.rooms[inv.Room]; err != nil || d.Type != wire.RoomLog || old != nil && old.isMember(old.self, old.version()) && !old.rec.Leaving {
			if err := n.cfg.Storage.DropInvitation(inv.Room); err != nil {
				return err
			}
			continue
		}
		r.offer = inv.Label
		n.invites[r.id] = r
	}
	return nil
}

// join makes r, a verified invitation, one of this user's rooms; for a
// room this user was removed from (or left), the entries that add it back
// go onto the log it has.
func (n *Node) join(r *room) error {
	if old := n.rooms[r.id]; old != nil {
		return n.rejoin(old, r)
	}
	if err := n.cfg.Storage.AddRoom(r.rec, r.log); err != nil {
		return err
	}
	if err := n.cfg.Storage.DropInvitation(r.id); err != nil {
		return err
	}
	delete(n.invites, r.id)
	n.rooms[r.id] = r
	n.events = append(n.events, Event{Kind: EventJoined, Room: r.id})
	n.afterLogChange(r, true)
	n.requestHistory(r)
	return nil
}

func (n *Node) rejoin(old, inv *room) error {
	rec := old.rec
	rec.Leaving = false
	if err := n.cfg.Storage.PutRoom(rec); err != nil {
		return err
	}
	old.rec = rec
	if err := n.applyLog(old, inv.log); err != nil {
		return err
	}
	if err := n.cfg.Storage.DropInvitation(old.id); err != nil {
		return err
	}
	delete(n.invites, old.id)
	n.events = append(n.events, Event{Kind: EventJoined, Room: old.id})
	return nil
}

// onLeave is the founder's answer to a member that asks to be removed: the
// removal, if the request is signed by that member for the version that
// last added it.
func (n *Node) onLeave(r *room, from int, d *wire.RoomDatagram) error {
	if r.self != 0 || from == 0 || d.Epoch != r.members[from].added() {
		return n.drop(DropStale, errDropStale)
	}
	sign := r.members[from].sign
	if !ed25519.Verify(sign[:], leaveSigned(r.id, r.roster[from], d.Epoch), d.Sig[:]) {
		return n.drop(DropForged, ErrForged)
	}
	return n.changeMembersLocked(r, r.roster[from], wire.RoomOpRemove)
}

// Invitation returns a pending invitation's founder and members (founder
// first), ok false if there is none for id.
func (n *Node) Invitation(id RoomID) (founder keys.PublicKey, members []keys.PublicKey, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.invites[id]
	if r == nil {
		return founder, nil, false
	}
	return r.roster[0], r.current(), true
}

// Invitations lists the rooms of the pending invitations, each with the
// label it came with.
func (n *Node) Invitations() map[RoomID]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[RoomID]string, len(n.invites))
	for id, r := range n.invites {
		out[id] = r.offer
	}
	return out
}

// Accept joins the room of a pending invitation (Config.AskToJoin).
func (n *Node) Accept(id RoomID) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.invites[id]
	if r == nil {
		return fmt.Errorf("%w: no invitation to %x", ErrNoRoom, id)
	}
	return n.join(r)
}

func (n *Node) onMessage(r *room, from int, d *wire.RoomDatagram) error {
	s, ok := r.index[d.Peer]
	if !ok || r.self < 0 {
		return n.drop(DropNotMember, errDropNotMember)
	}
	id := MessageID{d.Peer, d.Seq}
	if d.Epoch > r.version() {
		// Sent under a membership we have not seen yet: ask for the log.
		n.keepPending(r, id, d)
		n.requestLog(r, from)
		return nil
	}
	if !r.isMember(s, d.Epoch) || !r.isMember(r.self, d.Epoch) || d.Epoch < r.entitledFrom(s) {
		return n.drop(DropNotMember, errDropNotMember)
	}
	st := &r.senders[s]
	if st.base != 0 && d.Seq <= st.head || r.ooo[id] != nil {
		n.ackDuplicate(r, s)
		return n.drop(DropStale, errDropStale)
	}
	k := r.keys[keyRef{s, d.Epoch}]
	if k == nil || st.base == 0 {
		n.keepPending(r, id, d)
		epoch := d.Epoch
		if k != nil {
			epoch = n.findBase(r, s)
		}
		if epoch != 0 {
			n.requestKey(r, from, s, epoch)
		}
		return nil
	}
	m, err := open(k.Key, r.members[s].sign, d)
	if err != nil || d.Seq < k.FirstSeq {
		return n.drop(DropForged, ErrForged)
	}
	delete(r.pending, id)
	if d.Seq != st.head+1 {
		if len(r.ooo) >= MaxOutOfOrder {
			return n.drop(DropOverflow, errDropOverflow)
		}
		r.ooo[id] = &m
		n.requestGap(r, from, s, st.head+1, d.Seq-1)
		return nil
	}
	return n.accept(r, &m)
}

// requestLog asks member `from` for the log entries after ours, unless
// that was asked within GapRetry.
func (n *Node) requestLog(r *room, from int) {
	now := n.cfg.Now()
	if now.Before(r.logAsked.Add(GapRetry)) {
		return
	}
	r.logAsked = now
	req := wire.RoomDatagram{Type: wire.RoomLogRequest, Room: r.id, Epoch: r.version() + 1}
	b, _ := wire.AppendRoom(nil, &req)
	n.sendTo(r, from, b, true)
}

func (n *Node) keepPending(r *room, id MessageID, d *wire.RoomDatagram) {
	if _, ok := r.pending[id]; ok || len(r.pending) >= MaxPending {
		return
	}
	c := *d
	c.Body = slices.Clone(d.Body)
	r.pending[id] = &c
}

// retryPending tries again the messages that waited for a key or the log.
func (n *Node) retryPending(r *room) {
	ids := make([]MessageID, 0, len(r.pending))
	for id := range r.pending {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b MessageID) int {
		return compareOrder(Order{a.Seq, a.Sender}, Order{b.Seq, b.Sender})
	})
	for _, id := range ids {
		d, s := r.pending[id], r.index[id.Sender]
		if r.keys[keyRef{s, d.Epoch}] == nil || r.senders[s].base == 0 || d.Epoch > r.version() {
			continue // still waiting: asked for already
		}
		delete(r.pending, id)
		n.onMessage(r, s, d) //nolint:errcheck // counted in Stats
	}
}

// ackDuplicate answers a message the sender sent again: its ack was lost.
func (n *Node) ackDuplicate(r *room, s int) {
	d := wire.RoomDatagram{Type: wire.RoomAck, Room: r.id, Peer: r.roster[s], Seq: r.senders[s].head}
	b, _ := wire.AppendRoom(nil, &d)
	n.sendTo(r, s, b, true)
}

// requestGap asks member `from` for sender s's messages from..to, at most
// MaxGapBatch of them, unless that was asked within GapRetry.
func (n *Node) requestGap(r *room, from, s int, lo, hi uint64) {
	now := n.cfg.Now()
	if now.Before(r.gapAsked[s].Add(GapRetry)) {
		return
	}
	r.gapAsked[s] = now
	d := wire.RoomDatagram{Type: wire.RoomGapRequest, Room: r.id, Peer: r.roster[s], Seq: lo, To: min(hi, lo+MaxGapBatch-1)}
	b, _ := wire.AppendRoom(nil, &d)
	n.sendTo(r, from, b, true)
}

func (n *Node) onKey(r *room, d *wire.RoomDatagram) error {
	s, ok := r.index[d.Peer]
	if !ok || r.self < 0 {
		return n.drop(DropNotMember, errDropNotMember)
	}
	if d.Epoch > r.version() {
		return n.drop(DropStale, errDropStale) // asked for again once the log is here
	}
	if !r.isMember(s, d.Epoch) || !r.isMember(r.self, d.Epoch) || d.PrevEpoch >= d.Epoch || d.Seq == 0 {
		return n.drop(DropNotMember, errDropNotMember)
	}
	k := SenderKey{Sender: d.Peer, Epoch: d.Epoch, PrevEpoch: d.PrevEpoch, FirstSeq: d.Seq, Key: d.Key, Sig: d.Sig}
	sign := r.members[s].sign
	if !ed25519.Verify(sign[:], keySigned(r.id, &k), k.Sig[:]) {
		return n.drop(DropForged, ErrForged)
	}
	if err := n.storeKey(r, s, &k); err != nil {
		return err
	}
	n.retryPending(r)
	return nil
}

func (n *Node) onStatus(r *room, from int, d *wire.RoomDatagram) error {
	switch {
	case d.Epoch > r.version():
		n.requestLog(r, from)
	case d.Epoch < r.version():
		n.sendTo(r, from, r.logDatagram(int(d.Epoch)), true)
	case d.Key != r.hashes[len(r.hashes)-1]:
		n.events = append(n.events, Event{Kind: EventFork, Room: r.id, Member: r.roster[from]})
		return n.drop(DropForged, errFork)
	}
	r.reach[from] = slices.Clone(d.Reach)
	r.heard[from] = true
	for s := range min(len(d.Heads), len(r.roster)) {
		n.noteAck(r, from, s, d.Heads[s])
		st := &r.senders[s]
		if s != r.self && d.Heads[s] >= st.wanted && d.Heads[s] > 0 {
			// The latest to claim the highest head is asked: a newcomer
			// claims the seqs before its share too, which it cannot give,
			// so a member that stuck to one claimant could wait forever.
			st.wanted, st.wantedFrom = d.Heads[s], from
		}
		if s != r.self && st.base != 0 && d.Heads[s] > st.head {
			n.requestGap(r, from, s, st.head+1, d.Heads[s])
		}
	}
	return nil
}

// noteAck records that member m has sender s's messages up to head.
func (n *Node) noteAck(r *room, m, s int, head uint64) {
	if head <= r.acked[m][s] {
		return
	}
	if n.cfg.Storage.PutDelivery(r.id, Delivery{Member: r.roster[m], Sender: r.roster[s], Head: head}) == nil {
		r.acked[m][s] = head
	}
}

func (n *Node) onGapRequest(r *room, from int, d *wire.RoomDatagram) error {
	s, ok := r.index[d.Peer]
	if !ok || d.To < d.Seq || d.To-d.Seq >= MaxGapBatch {
		return n.drop(DropMalformed, wire.ErrMalformed)
	}
	for seq := d.Seq; seq <= d.To; seq++ {
		m := r.msgs[MessageID{d.Peer, seq}]
		if m == nil || m.History || !r.isMember(from, m.Epoch) {
			continue
		}
		k := r.keys[keyRef{s, m.Epoch}]
		if k == nil {
			continue
		}
		if b, err := seal(k.Key, m); err == nil {
			n.sendTo(r, from, b, true)
		}
	}
	return nil
}

// onKeyRequest answers with the sender's keys from the asked epoch on that
// the asker was a member for, the earliest first, a few at a time.
func (n *Node) onKeyRequest(r *room, from int, d *wire.RoomDatagram) error {
	s, ok := r.index[d.Peer]
	if !ok {
		return n.drop(DropNotMember, errDropNotMember)
	}
	var ks []*SenderKey
	for ref, k := range r.keys {
		if ref.sender == s && k.Epoch >= d.Epoch && r.isMember(from, k.Epoch) {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b *SenderKey) int { return cmp.Compare(a.Epoch, b.Epoch) })
	for _, k := range ks[:min(len(ks), 4)] {
		b, _ := wire.AppendRoom(nil, k.datagram(r.id))
		n.sendTo(r, from, b, false)
	}
	return nil
}

// onHistoryRequest sends the newcomer the next batch of what it is owed:
// messages sent before its invitation (an epoch before its addition),
// under the room's policy, after its cursor, in the agreed order.
func (n *Node) onHistoryRequest(r *room, from int, d *wire.RoomDatagram) error {
	if r.policy == wire.RoomHistoryNone {
		return n.drop(DropNotMember, errDropNotMember)
	}
	added := r.members[from].firstAdded()
	if !n.historyComplete(r, added) && n.cfg.Now().Before(r.learned[added-1].Add(historyWait)) {
		// Not yet: an empty batch, not done. The newcomer asks again at
		// its next status period.
		b, _ := wire.AppendRoom(nil, &wire.RoomDatagram{Type: wire.RoomHistory, Room: r.id})
		n.sendTo(r, from, b, false)
		return nil
	}
	var owed []*Message
	for _, m := range r.msgs {
		if m.Epoch < added {
			owed = append(owed, m)
		}
	}
	slices.SortFunc(owed, func(a, b *Message) int { return compareOrder(a.Order(), b.Order()) })
	if r.policy == wire.RoomHistoryLast && uint64(len(owed)) > r.keepN {
		owed = owed[uint64(len(owed))-r.keepN:]
	}
	cursor := Order{d.Lamport, d.Peer}
	start, _ := slices.BinarySearchFunc(owed, cursor, func(m *Message, c Order) int {
		if compareOrder(m.Order(), c) <= 0 {
			return -1
		}
		return 1
	})
	batch := wire.RoomDatagram{Type: wire.RoomHistory, Room: r.id, Done: true}
	size := 0
	for _, m := range owed[start:] {
		if len(batch.History) == wire.MaxRoomBatch || len(batch.History) > 0 && size+len(m.Text) > maxHistoryBytes {
			batch.Done = false
			break
		}
		batch.History = append(batch.History, wire.RoomHistoryItem{Header: m.header(), Text: m.Text, Sig: m.Sig})
		size += len(m.Text)
	}
	b, err := wire.AppendRoom(nil, &batch)
	if err != nil {
		return err
	}
	n.sendTo(r, from, b, false)
	return nil
}

func (n *Node) onHistory(r *room, d *wire.RoomDatagram) error {
	if r.rec.HistoryDone {
		return n.drop(DropStale, errDropStale)
	}
	mine := r.members[r.self].firstAdded()
	cursor := r.rec.HistoryCursor
	for i := range d.History {
		it := &d.History[i]
		s, ok := r.index[it.Header.Sender]
		if !ok || it.Header.Epoch >= mine {
			return n.drop(DropNotMember, errDropNotMember)
		}
		sign := r.members[s].sign
		if !ed25519.Verify(sign[:], messageSigned(&it.Header, it.Text), it.Sig[:]) {
			return n.drop(DropForged, ErrForged)
		}
		o := Order{it.Header.Lamport, it.Header.Sender}
		if compareOrder(o, cursor) <= 0 {
			return n.drop(DropStale, errDropStale) // an answer to an older request
		}
		cursor = o
	}
	for i := range d.History {
		it := &d.History[i]
		m := &Message{Room: r.id, ID: MessageID{it.Header.Sender, it.Header.Seq}, Epoch: it.Header.Epoch,
			Lamport: it.Header.Lamport, Text: slices.Clone(it.Text), Sig: it.Sig, History: true}
		if r.msgs[m.ID] != nil {
			continue
		}
		if err := n.cfg.Storage.PutMessage(*m); err != nil {
			return err
		}
		r.msgs[m.ID] = m
		r.lamport = max(r.lamport, m.Lamport)
		n.showMessage(r, m)
	}
	r.rec.HistoryCursor, r.rec.HistoryDone = cursor, d.Done
	if err := n.cfg.Storage.PutRoom(r.rec); err != nil {
		return err
	}
	if !d.Done && len(d.History) > 0 {
		n.requestHistory(r) // the next batch; an empty one says "later"
	}
	return nil
}

// historyComplete reports whether this member holds all it ever will of
// what a newcomer added at version added is owed: every other member that
// may still speak under a membership before it has shown it knows of the
// newcomer (it has that member's first key of a version from added on)
// and this member has that member's messages up to that key's first seq.
// Until then a line said under the older membership may still be on its
// way, and a history said to be done would miss it for good.
func (n *Node) historyComplete(r *room, added uint64) bool {
	for s := range r.roster {
		if s == r.self || !r.isMember(s, added-1) || !r.isMember(s, r.version()) {
			continue
		}
		var first *SenderKey
		for ref, k := range r.keys {
			if ref.sender == s && k.Epoch >= added && (first == nil || k.Epoch < first.Epoch) {
				first = k
			}
		}
		if first == nil || r.senders[s].base == 0 || r.senders[s].head+1 < first.FirstSeq {
			return false
		}
	}
	return true
}

// onForwardTo passes a datagram on to the member it is for, once: the
// inner datagram is relayed as it came, so its signature still holds.
func (n *Node) onForwardTo(r *room, from int, d *wire.RoomDatagram, forwarded bool) error {
	to, ok := r.index[d.Peer]
	if forwarded || !ok || !r.isMember(to, r.version()) || to == r.self {
		return n.drop(DropNotMember, errDropNotMember)
	}
	inner, err := wire.ParseRoom(d.Body)
	if err != nil || inner.Room != d.Room {
		return n.drop(DropMalformed, wire.ErrMalformed)
	}
	switch inner.Type {
	case wire.RoomForwardTo, wire.RoomForwardedFrom, wire.RoomKey, wire.RoomHistory, wire.RoomBinding:
		return n.drop(DropMalformed, wire.ErrMalformed)
	}
	if inner.Type == wire.RoomMessage && !r.isMember(to, inner.Epoch) {
		return n.drop(DropNotMember, errDropNotMember)
	}
	fd := wire.RoomDatagram{Type: wire.RoomForwardedFrom, Room: r.id, Peer: r.roster[from], Body: d.Body}
	b, err := wire.AppendRoom(nil, &fd)
	if err != nil {
		return n.drop(DropMalformed, err)
	}
	n.stats.Forwarded++
	n.out = append(n.out, Outgoing{To: d.Peer, Datagram: b})
	return nil
}
