package rooms

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// room is one room's state, guarded by Node.mu. Members are named by their
// roster index: everyone ever added, in the order of the log.
type room struct {
	id  RoomID
	rec RoomRecord

	log     [][]byte
	hashes  [][32]byte
	learned []time.Time // when this node applied each entry (this run)
	roster  []keys.PublicKey
	index   map[keys.PublicKey]int
	members []memberState
	policy  wire.RoomHistoryPolicy
	keepN   uint64
	topic   string // the last topic entry's
	offer   string // a pending invitation's label (R0)
	self    int    // -1 until this user is in the roster

	keys    map[keyRef]*SenderKey
	myEpoch uint64
	senders []senderState
	lamport uint64
	msgs    map[MessageID]*Message
	ooo     map[MessageID]*Message           // decrypted, waiting for an earlier seq
	pending map[MessageID]*wire.RoomDatagram // sealed, waiting for a key or the log
	acked   [][]uint64                       // acked[member][sender]: that member's head for that sender
	reach   [][]byte                         // each member's last reach bitmap

	nextStatus time.Time
	gapAsked   []time.Time // per sender: when a gap was last requested
	keyAsked   []time.Time // per sender: when a key was last requested
	logAsked   time.Time   // when log entries were last requested
	heard      []bool      // per member: a status came from it (the founder re-invites until one does)
}

// memberState is one roster member: its signing key and the stretches of
// the log it was a member for. A removed member may be added again, which
// opens a new stretch under the same roster index.
type memberState struct {
	sign  [32]byte
	spans []membership // in log order; only the last may be open
}

// membership is one stretch of membership: from the version that added the
// member to the one that removed it (0 while it is a member).
type membership struct{ added, removed uint64 }

// firstAdded is the version that first added the member: what was said
// before it is its history, and nothing said while it was out is.
func (m *memberState) firstAdded() uint64 { return m.spans[0].added }

// added is the version that last added the member.
func (m *memberState) added() uint64 { return m.spans[len(m.spans)-1].added }

// removed is the version that last removed the member, 0 while a member.
func (m *memberState) removed() uint64 { return m.spans[len(m.spans)-1].removed }

type keyRef struct {
	sender int
	epoch  uint64
}

// senderState is this member's share of one sender's messages: the live
// ones from base on, of which it has every seq up to head.
type senderState struct {
	base uint64 // 0 while unknown
	head uint64
	// wanted is the highest head a member's status claimed for this
	// sender, and wantedFrom that member: where gap repair asks.
	wanted     uint64
	wantedFrom int
}

func newRoom(id RoomID) *room {
	return &room{id: id, rec: RoomRecord{ID: id}, index: make(map[keys.PublicKey]int), self: -1,
		keys: make(map[keyRef]*SenderKey), msgs: make(map[MessageID]*Message),
		ooo: make(map[MessageID]*Message), pending: make(map[MessageID]*wire.RoomDatagram)}
}

func (r *room) version() uint64 { return uint64(len(r.log)) }

// isMember reports whether roster index i was a member at version v.
func (r *room) isMember(i int, v uint64) bool {
	if i < 0 || i >= len(r.members) {
		return false
	}
	for _, sp := range r.members[i].spans {
		if sp.added <= v && (sp.removed == 0 || sp.removed > v) {
			return true
		}
	}
	return false
}

// entitledFrom is the first epoch of sender s whose messages this member
// gets live: from when both were last added. One added again gets nothing
// said while it was out.
func (r *room) entitledFrom(s int) uint64 {
	return max(r.members[r.self].added(), r.members[s].added())
}

// logDatagram carries the log's entries from index from on. The log always
// fits one (the founder writes no entry that would not: ErrLogFull), so an
// invitation carries the whole of it.
func (r *room) logDatagram(from int) []byte {
	d := wire.RoomDatagram{Type: wire.RoomLog, Room: r.id, Entries: r.log[from:]}
	b, _ := wire.AppendRoom(nil, &d)
	return b
}

// fits reports whether the log with raw after it still goes in one log
// datagram.
func (r *room) fits(raw []byte) bool {
	d := wire.RoomDatagram{Type: wire.RoomLog, Room: r.id, Entries: append(slices.Clip(r.log), raw)}
	_, err := wire.AppendRoom(nil, &d)
	return err == nil
}

// applyLog verifies raw entries that follow the log and applies them:
// signed by the founder, chained by hash, versions in a row. Entries the
// log already has are skipped; the first bad one stops it.
func (n *Node) applyLog(r *room, raws [][]byte) error {
	changed, members := false, false
	for _, raw := range raws {
		e, err := wire.ParseRoomLogEntry(raw)
		if err != nil {
			return err
		}
		if e.Version <= r.version() {
			if entryHash(raw) != r.hashes[e.Version-1] {
				return errFork
			}
			continue
		}
		if e.Version > r.version()+1 {
			break // a later batch: the status that follows asks for the gap
		}
		if err := r.verifyEntry(&e, raw); err != nil {
			return err
		}
		if err := n.cfg.Storage.AppendLog(r.id, raw); err != nil {
			return err
		}
		r.applyEntry(&e, raw, n.cfg.Self, n.cfg.Now())
		changed = true
		if e.Op == wire.RoomOpTopic {
			n.events = append(n.events, Event{Kind: EventTopic, Room: r.id})
		} else {
			members = true
		}
	}
	if changed {
		n.afterLogChange(r, members)
	}
	return nil
}

var errFork = errors.New("rooms: a log entry contradicts ours")

func (r *room) verifyEntry(e *wire.RoomLogEntry, raw []byte) error {
	if e.Version != r.version()+1 {
		return fmt.Errorf("%w: log entry %d after %d", wire.ErrMalformed, e.Version, r.version())
	}
	founderKey := e.SignKey
	if e.Version == 1 {
		if e.Op != wire.RoomOpCreate {
			return fmt.Errorf("%w: the log does not start with its creation", wire.ErrMalformed)
		}
	} else {
		if e.Op == wire.RoomOpCreate || e.PrevHash != r.hashes[len(r.hashes)-1] {
			return fmt.Errorf("%w: log entry %d does not chain", wire.ErrMalformed, e.Version)
		}
		founderKey = r.members[0].sign
		i, known := r.index[e.Member]
		switch {
		case e.Op == wire.RoomOpAdd && known && r.isMember(i, r.version()):
			return fmt.Errorf("%w: adds a member twice", wire.ErrMalformed)
		case e.Op == wire.RoomOpAdd && !known && len(r.roster) >= wire.MaxRoomMembers:
			return fmt.Errorf("%w: a member over the roster's %d", wire.ErrTooBig, wire.MaxRoomMembers)
		case e.Op == wire.RoomOpRemove && (!known || i == 0 || !r.isMember(i, r.version())):
			return fmt.Errorf("%w: removes a non-member", wire.ErrMalformed)
		case e.Op == wire.RoomOpTopic && (i != 0 || !known || e.SignKey != founderKey):
			return fmt.Errorf("%w: a topic not of the founder's", wire.ErrMalformed)
		}
	}
	if !ed25519.Verify(founderKey[:], logSigned(r.id, e), e.Sig[:]) {
		return fmt.Errorf("%w: log entry %d", ErrForged, e.Version)
	}
	return nil
}

func (r *room) applyEntry(e *wire.RoomLogEntry, raw []byte, self keys.PublicKey, now time.Time) {
	r.log = append(r.log, raw)
	r.hashes = append(r.hashes, entryHash(raw))
	r.learned = append(r.learned, now)
	if i, known := r.index[e.Member]; known && e.Op == wire.RoomOpAdd {
		r.readd(i, e)
		return
	}
	switch e.Op {
	case wire.RoomOpTopic:
		r.topic = e.Topic
	case wire.RoomOpCreate, wire.RoomOpAdd:
		if e.Op == wire.RoomOpCreate {
			r.policy, r.keepN = e.Policy, e.KeepN
		}
		r.index[e.Member] = len(r.roster)
		if e.Member == self {
			r.self = len(r.roster)
		}
		r.roster = append(r.roster, e.Member)
		r.members = append(r.members, memberState{sign: e.SignKey, spans: []membership{{added: e.Version}}})
		r.senders = append(r.senders, senderState{})
		r.reach = append(r.reach, nil)
		r.gapAsked = append(r.gapAsked, time.Time{})
		r.keyAsked = append(r.keyAsked, time.Time{})
		r.heard = append(r.heard, false)
		for i := range r.acked {
			r.acked[i] = append(r.acked[i], 0)
		}
		r.acked = append(r.acked, make([]uint64, len(r.roster)))
	case wire.RoomOpRemove:
		m := &r.members[r.index[e.Member]]
		m.spans[len(m.spans)-1].removed = e.Version
	}
}

// readd opens a new stretch of membership for roster index i, removed
// before. Where a share starts moves with it (entitledFrom): this member's
// share of i, or, if i is this member, its share of everyone, is worked
// out again from the keys made for the new version on.
func (r *room) readd(i int, e *wire.RoomLogEntry) {
	m := &r.members[i]
	m.sign = e.SignKey
	m.spans = append(m.spans, membership{added: e.Version})
	r.heard[i] = false
	for s := range r.senders {
		if s != r.self && (i == r.self || s == i) {
			r.senders[s].base = 0
			r.senders[s].wanted = 0
		}
	}
}

// afterLogChange makes a new sender key for the new version, if this user
// is still a member, and tells every member of it. Every entry makes a new
// version, a topic too: keys follow versions, which keeps one rule. members
// says the membership changed (news for the chat).
func (n *Node) afterLogChange(r *room, members bool) {
	if members {
		n.events = append(n.events, Event{Kind: EventMembers, Room: r.id})
	}
	if r.self < 0 {
		return
	}
	if !r.isMember(r.self, r.version()) {
		n.events = append(n.events, Event{Kind: EventRemoved, Room: r.id})
		return
	}
	if r.myEpoch == r.version() {
		return
	}
	k := SenderKey{Sender: n.cfg.Self, Epoch: r.version(), PrevEpoch: r.myEpoch, FirstSeq: max(1, r.senders[r.self].head+1)}
	if _, err := io.ReadFull(n.cfg.Rand, k.Key[:]); err != nil {
		return // no new key: the next change or restart tries again
	}
	copy(k.Sig[:], ed25519.Sign(n.cfg.Sign, keySigned(r.id, &k)))
	if err := n.storeKey(r, r.self, &k); err != nil {
		return
	}
	r.myEpoch = k.Epoch
	b, _ := wire.AppendRoom(nil, k.datagram(r.id))
	for i := range r.roster {
		if i != r.self && r.isMember(i, k.Epoch) {
			n.sendTo(r, i, b, false)
		}
	}
}

func (n *Node) storeKey(r *room, s int, k *SenderKey) error {
	ref := keyRef{s, k.Epoch}
	if r.keys[ref] != nil {
		return nil
	}
	if err := n.cfg.Storage.PutKey(r.id, *k); err != nil {
		return err
	}
	r.keys[ref] = k
	n.findBase(r, s)
	return nil
}

// findBase works out, once it can, the first seq of sender s this member is
// owed live: the first seq of the sender's earliest key from entitledFrom
// on. Keys chain by PrevEpoch, so the walk back ends at a key whose
// predecessor is older than that. It returns the epoch of a key still to be
// asked for, or 0.
func (n *Node) findBase(r *room, s int) uint64 {
	st := &r.senders[s]
	if st.base != 0 || r.self < 0 {
		return 0
	}
	from := r.entitledFrom(s)
	var first *SenderKey
	for ref, k := range r.keys {
		if ref.sender == s && k.Epoch >= from && (first == nil || k.Epoch < first.Epoch) {
			first = k
		}
	}
	if first == nil {
		return from
	}
	if first.PrevEpoch >= from {
		return first.PrevEpoch
	}
	st.base, st.head = first.FirstSeq, first.FirstSeq-1
	return 0
}

// accept stores a live message that is next in its sender's order, then
// any that were waiting behind it; it queues an ack to the sender.
func (n *Node) accept(r *room, m *Message) error {
	s := r.index[m.ID.Sender]
	for {
		if err := n.cfg.Storage.PutMessage(*m); err != nil {
			return err
		}
		r.msgs[m.ID] = m
		r.senders[s].head = m.ID.Seq
		r.acked[r.self][s] = m.ID.Seq
		r.lamport = max(r.lamport, m.Lamport)
		if s != r.self {
			n.showMessage(r, m)
		}
		next := MessageID{m.ID.Sender, m.ID.Seq + 1}
		if m = r.ooo[next]; m == nil {
			break
		}
		delete(r.ooo, next)
	}
	if s != r.self {
		d := wire.RoomDatagram{Type: wire.RoomAck, Room: r.id, Peer: r.roster[s], Seq: r.senders[s].head}
		b, _ := wire.AppendRoom(nil, &d)
		n.sendTo(r, s, b, true)
	}
	return nil
}

// showMessage reports a stored message to the chat, as a copy.
func (n *Node) showMessage(r *room, m *Message) {
	if r.rec.Leaving {
		return // this user left: nothing more of the room is news
	}
	c := m.clone()
	n.events = append(n.events, Event{Kind: EventMessage, Room: r.id, Message: &c})
}

// sendTo queues b for member i: directly, or, when the chat cannot reach i
// and b may be forwarded, through a member whose last status says it
// reaches i. Keys and history are never forwarded: they are for members of
// a given epoch only, which a forwarder need not be.
func (n *Node) sendTo(r *room, i int, b []byte, forwardable bool) {
	to := r.roster[i]
	n.stats.Sent++
	if !n.unreached[to] || !forwardable {
		n.out = append(n.out, Outgoing{To: to, Datagram: b})
		return
	}
	for f := range r.roster {
		if f == i || f == r.self || !r.isMember(f, r.version()) || n.unreached[r.roster[f]] {
			continue
		}
		if bm := r.reach[f]; i/8 < len(bm) && bm[i/8]&(1<<(i%8)) != 0 {
			d := wire.RoomDatagram{Type: wire.RoomForwardTo, Room: r.id, Peer: to, Body: b}
			fb, err := wire.AppendRoom(nil, &d)
			if err == nil {
				n.out = append(n.out, Outgoing{To: r.roster[f], Datagram: fb})
				return
			}
		}
	}
	n.out = append(n.out, Outgoing{To: to, Datagram: b}) // no way round: try anyway
}

// status is this member's checksum of the room: its log version and hash,
// its head for every sender, and whom it reaches.
func (n *Node) status(r *room) []byte {
	d := wire.RoomDatagram{Type: wire.RoomStatus, Room: r.id, Epoch: r.version(), Key: r.hashes[len(r.hashes)-1],
		Heads: make([]uint64, len(r.roster)), Reach: make([]byte, (len(r.roster)+7)/8)}
	for i := range r.roster {
		d.Heads[i] = r.senders[i].head
		if !n.unreached[r.roster[i]] {
			d.Reach[i/8] |= 1 << (i % 8)
		}
	}
	b, _ := wire.AppendRoom(nil, &d)
	return b
}

// requestKey asks member `to` (or, if it cannot be reached, another) for
// sender s's keys from epoch on, unless one was asked for within
// GapRetry.
func (n *Node) requestKey(r *room, to, s int, epoch uint64) {
	now := n.cfg.Now()
	if now.Before(r.keyAsked[s].Add(GapRetry)) {
		return
	}
	if n.unreached[r.roster[to]] || !r.isMember(to, r.version()) {
		if to = n.someMember(r, to); to < 0 {
			return
		}
	}
	r.keyAsked[s] = now
	d := wire.RoomDatagram{Type: wire.RoomKeyRequest, Room: r.id, Peer: r.roster[s], Epoch: epoch}
	b, _ := wire.AppendRoom(nil, &d)
	n.sendTo(r, to, b, false)
}

// requestMissingKeys asks a member for the keys that tell where this
// member's share of a sender starts.
func (n *Node) requestMissingKeys(r *room) {
	for s := range r.roster {
		if s == r.self || !r.isMember(s, r.version()) && r.members[s].removed() <= r.entitledFrom(s) {
			continue
		}
		epoch := n.findBase(r, s)
		if epoch == 0 {
			continue
		}
		n.requestKey(r, s, s, epoch)
	}
}

// someMember picks a reachable current member other than this one and
// avoid, varying with the clock, or -1.
func (n *Node) someMember(r *room, avoid int) int {
	start := int(n.cfg.Now().UnixNano()/int64(time.Millisecond)) % max(1, len(r.roster))
	for k := range r.roster {
		i := (start + k) % len(r.roster)
		if i != r.self && i != avoid && r.isMember(i, r.version()) && !n.unreached[r.roster[i]] {
			return i
		}
	}
	return -1
}

// requestHistory asks a member for the next batch of history this
// newcomer is owed under the room's policy.
func (n *Node) requestHistory(r *room) {
	if r.rec.HistoryDone || r.policy == wire.RoomHistoryNone || r.self == 0 {
		return
	}
	to := n.someMember(r, r.self)
	if to < 0 {
		return
	}
	d := wire.RoomDatagram{Type: wire.RoomHistoryRequest, Room: r.id, Lamport: r.rec.HistoryCursor.Lamport, Peer: r.rec.HistoryCursor.Sender}
	b, _ := wire.AppendRoom(nil, &d)
	n.sendTo(r, to, b, false)
}

// load rebuilds a room from storage.
func (n *Node) load(rec RoomRecord) (*room, error) {
	r := newRoom(rec.ID)
	r.rec = rec
	log, err := n.cfg.Storage.Log(rec.ID)
	if err != nil {
		return nil, err
	}
	for _, raw := range log {
		e, err := wire.ParseRoomLogEntry(raw)
		if err != nil {
			return nil, err
		}
		if err := r.verifyEntry(&e, raw); err != nil {
			return nil, err
		}
		r.applyEntry(&e, raw, n.cfg.Self, n.cfg.Now())
	}
	if r.self < 0 {
		return nil, errors.New("the stored log does not have this user in it")
	}
	ks, err := n.cfg.Storage.Keys(rec.ID)
	if err != nil {
		return nil, err
	}
	for i := range ks {
		k := &ks[i]
		s, ok := r.index[k.Sender]
		if !ok {
			continue
		}
		r.keys[keyRef{s, k.Epoch}] = k
		if s == r.self {
			r.myEpoch = max(r.myEpoch, k.Epoch)
		}
	}
	for s := range r.roster {
		n.findBase(r, s)
	}
	msgs, err := n.cfg.Storage.Messages(rec.ID)
	if err != nil {
		return nil, err
	}
	for i := range msgs {
		m := &msgs[i]
		r.msgs[m.ID] = m
		r.lamport = max(r.lamport, m.Lamport)
		if s, ok := r.index[m.ID.Sender]; ok && !m.History {
			r.senders[s].head = max(r.senders[s].head, m.ID.Seq)
			r.acked[r.self][s] = r.senders[s].head
		}
	}
	ds, err := n.cfg.Storage.Deliveries(rec.ID)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		mi, ok1 := r.index[d.Member]
		si, ok2 := r.index[d.Sender]
		if ok1 && ok2 {
			r.acked[mi][si] = max(r.acked[mi][si], d.Head)
		}
	}
	n.afterLogChange(r, false) // a key the crash kept it from making
	return r, nil
}
