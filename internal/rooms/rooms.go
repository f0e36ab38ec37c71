// Package rooms is the replication core of group conversations (issue 11):
// a room's signed membership log, per-sender sender keys that rotate with
// every membership change, messages ordered by (Lamport clock, sender),
// gap repair, status checksums that heal partitions, per-member delivery
// (k of n stored), forwarding through a member and history for newcomers.
//
// It does no I/O and keeps no goroutines: the chat hands it each room
// datagram that arrived from a member (Receive), calls Tick now and then,
// and carries what Outbox returns to the members named there over their
// pairwise Noise sessions. Time comes from Config.Now. docs/PROTOCOL.md,
// "Rooms", is the specification; internal/chat/roomchat carries it over
// the chat (R0).
package rooms

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// RoomID names a room: 16 random bytes chosen by its founder.
type RoomID [wire.RoomIDLen]byte

// MessageID names a message: its sender and the sender's seq in the room.
type MessageID struct {
	Sender keys.PublicKey
	Seq    uint64
}

// Order is where a message goes in the room's one agreed order: by Lamport
// clock, then by sender key (bytes), then seq.
type Order struct {
	Lamport uint64
	Sender  keys.PublicKey
}

// Message is a room message as every member stores it.
type Message struct {
	Room    RoomID
	ID      MessageID
	Epoch   uint64 // the sender's key epoch (membership version)
	Lamport uint64
	Text    []byte
	Sig     [64]byte // the sender's Ed25519 signature
	// History: it reached this member as history (said before it was
	// invited), not as a live message.
	History bool
}

// clone copies m, text and all, for a caller that may keep or change it.
func (m *Message) clone() Message {
	c := *m
	c.Text = slices.Clone(m.Text)
	return c
}

// Order returns m's place in the agreed order.
func (m *Message) Order() Order { return Order{m.Lamport, m.ID.Sender} }

func compareOrder(a, b Order) int {
	return cmp.Or(cmp.Compare(a.Lamport, b.Lamport), bytes.Compare(a.Sender[:], b.Sender[:]))
}

// Timing and bounds (PROTOCOL.md, Rooms, constants).
const (
	// StatusPeriod is how often a member sends its status (membership
	// version and hash, per-sender heads) to every other member.
	StatusPeriod = 10 * time.Second
	// GapRetry is how long a member waits for the answer to a gap request
	// before it asks again (Tick asks, toward the highest head a status
	// claimed).
	GapRetry = 2 * time.Second
	// MaxGapBatch bounds the messages one gap request asks for.
	MaxGapBatch = 64
	// MaxOutOfOrder bounds a room's decrypted messages that wait for an
	// earlier one from the same sender; MaxPending its sealed ones that
	// wait for a key or a log entry. Over either, new ones are dropped
	// (and gap repair brings them back later).
	MaxOutOfOrder = 4096
	MaxPending    = 1024
	// maxHistoryBytes bounds the texts of one history batch.
	maxHistoryBytes = 64 << 10
	// historyWait bounds how long a member holds back a newcomer's
	// history while a member that may still speak under an older
	// membership has not shown it learned of the newcomer (historyComplete).
	historyWait = 3 * StatusPeriod
)

// Errors.
var (
	ErrForged       = errors.New("rooms: forged or corrupted")
	ErrNotMember    = errors.New("rooms: not a member of the room")
	ErrNoRoom       = errors.New("rooms: no such room")
	ErrNotFounder   = errors.New("rooms: only the founder changes the membership")
	ErrNoBinding    = errors.New("rooms: no signing key known for that person yet (they must be connected)")
	ErrLogFull      = errors.New("rooms: the room's log is full (it goes whole in one datagram: about 1,600 membership or topic changes); found a new room")
	ErrRosterFull   = fmt.Errorf("rooms: the room has had %d members, its most", wire.MaxRoomMembers)
	ErrFounderStays = errors.New("rooms: the founder cannot leave (only the founder changes the membership); remove the others instead")
)

// Config is what a Node needs.
type Config struct {
	Self    keys.PublicKey     // this user's Noise identity
	Sign    ed25519.PrivateKey // this user's room signing key (kept beside the identity)
	Storage Storage
	Now     func() time.Time // default time.Now
	Rand    io.Reader        // default crypto/rand; tests seed it
	// AskToJoin says an invitation waits for the user's consent: it is
	// verified and kept, in memory and in Storage, so that it outlives a
	// restart (EventInvited, Invitation, Invitations), and only Accept
	// joins the room. Without it a verified invitation joins at once. The
	// founder also sends the invitation again each StatusPeriod until the
	// newcomer answers.
	AskToJoin bool
	// FanoutAbove is the room size above which messages go through a
	// relay's fan-out, when there is one (SetFanout); 0 is FanoutMembers.
	FanoutAbove int
}

// Outgoing is a datagram for the chat to carry to member To, or, when Post
// is set, to post once to the relay fan-out of Room (RL9).
type Outgoing struct {
	To       keys.PublicKey
	Post     bool
	Room     RoomID
	Datagram []byte
}

// EventKind says what an Event reports.
type EventKind int

const (
	EventMessage EventKind = iota + 1 // a message was stored (live or history)
	EventJoined                       // this user was added to a room
	EventMembers                      // the membership changed
	EventRemoved                      // this user was removed from a room
	EventFork                         // a member showed a log that contradicts ours
	EventInvited                      // an invitation waits for Accept (Config.AskToJoin)
	EventTopic                        // the founder set the room's topic (Topic)
)

// Event is something the chat shows.
type Event struct {
	Kind    EventKind
	Room    RoomID
	Message *Message       // EventMessage
	Member  keys.PublicKey // EventFork: who showed it
}

// DropReason is why a room datagram was thrown away.
type DropReason int

const (
	DropMalformed DropReason = iota // did not parse
	DropUnknownRoom
	DropNotMember // from, about or for someone who is not a member
	DropForged    // a bad signature, or does not decrypt
	DropStale     // a duplicate, or about an older state
	DropOverflow  // a bounded buffer was full
	numDrops
)

// Stats counts what a Node did.
type Stats struct {
	Received, Sent, Forwarded uint64
	Drops                     [numDrops]uint64
}

// Node is one user's rooms. Its methods are safe for concurrent use.
type Node struct {
	cfg     Config
	signPub [32]byte

	mu        sync.Mutex // guards the fields below
	rooms     map[RoomID]*room
	bindings  map[keys.PublicKey][32]byte // sign keys announced over pairwise sessions
	unreached map[keys.PublicKey]bool     // members the chat cannot reach directly
	invites   map[RoomID]*room            // verified invitations awaiting Accept
	// receivingLabel is the label of the datagram ReceiveLabeled handles.
	receivingLabel string
	fanout         bool // the chat can post to a relay's room fan-out (SetFanout)
	out            []Outgoing
	events         []Event
	stats          Stats
}

// New returns a Node with the rooms in cfg.Storage.
func New(cfg Config) (*Node, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if len(cfg.Sign) != ed25519.PrivateKeySize || cfg.Storage == nil {
		return nil, errors.New("rooms: Config needs a signing key and a Storage")
	}
	n := &Node{cfg: cfg, rooms: make(map[RoomID]*room), bindings: make(map[keys.PublicKey][32]byte),
		unreached: make(map[keys.PublicKey]bool), invites: make(map[RoomID]*room)}
	copy(n.signPub[:], cfg.Sign.Public().(ed25519.PublicKey))
	recs, err := cfg.Storage.Rooms()
	if err != nil {
		return nil, fmt.Errorf("rooms: loading: %w", err)
	}
	for _, rec := range recs {
		r, err := n.load(rec)
		if err != nil {
			return nil, fmt.Errorf("rooms: loading room %x: %w", rec.ID, err)
		}
		n.rooms[rec.ID] = r
	}
	if err := n.loadInvitations(); err != nil {
		return nil, fmt.Errorf("rooms: loading invitations: %w", err)
	}
	n.out, n.events = nil, nil // loading re-announces nothing
	return n, nil
}

// Binding returns the datagram that announces this user's signing key; the
// chat sends it over every new pairwise session.
func (n *Node) Binding() []byte {
	d := wire.RoomDatagram{Type: wire.RoomBinding, Key: n.signPub}
	copy(d.Sig[:], bindingSig(n.cfg.Sign, n.cfg.Self))
	b, _ := wire.AppendRoom(nil, &d)
	return b
}

// SetReachable tells the core whether peer can be reached directly; when
// not, what is for it goes through a member that can reach it.
func (n *Node) SetReachable(peer keys.PublicKey, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ok {
		delete(n.unreached, peer)
	} else {
		n.unreached[peer] = true
	}
}

// Outbox returns, and forgets, the datagrams waiting to be sent.
func (n *Node) Outbox() []Outgoing {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.out
	n.out = nil
	return out
}

// Events returns, and forgets, what happened since the last call.
func (n *Node) Events() []Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	ev := n.events
	n.events = nil
	return ev
}

// Stats returns the counters.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Create founds a room with the given history policy (keepN for
// wire.RoomHistoryLast) and returns its ID.
func (n *Node) Create(policy wire.RoomHistoryPolicy, keepN uint64) (RoomID, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var id RoomID
	if _, err := io.ReadFull(n.cfg.Rand, id[:]); err != nil {
		return id, err
	}
	e := wire.RoomLogEntry{Version: 1, Op: wire.RoomOpCreate, Member: n.cfg.Self, SignKey: n.signPub, Policy: policy, KeepN: keepN}
	raw := n.signEntry(id, &e)
	r := newRoom(id)
	r.applyEntry(&e, raw, n.cfg.Self, n.cfg.Now())
	if err := n.cfg.Storage.AddRoom(r.rec, r.log); err != nil {
		return id, err
	}
	n.rooms[id] = r
	n.afterLogChange(r, true)
	return id, nil
}

func (n *Node) signEntry(id RoomID, e *wire.RoomLogEntry) []byte {
	copy(e.Sig[:], ed25519.Sign(n.cfg.Sign, logSigned(id, e)))
	return wire.AppendRoomLogEntry(nil, e)
}

// Add adds member to the room (founder only). Its signing key must have been
// announced to this node (a binding over their pairwise session).
func (n *Node) Add(id RoomID, member keys.PublicKey) error {
	return n.changeMembers(id, member, wire.RoomOpAdd)
}

// Remove removes member from the room (founder only). From then on no
// member sends it anything, and every member's next key leaves it out.
func (n *Node) Remove(id RoomID, member keys.PublicKey) error {
	return n.changeMembers(id, member, wire.RoomOpRemove)
}

func (n *Node) changeMembers(id RoomID, member keys.PublicKey, op wire.RoomOp) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[id]
	if r == nil {
		return ErrNoRoom
	}
	return n.changeMembersLocked(r, member, op)
}

func (n *Node) changeMembersLocked(r *room, member keys.PublicKey, op wire.RoomOp) error {
	if r.roster[0] != n.cfg.Self {
		return ErrNotFounder
	}
	e := wire.RoomLogEntry{Version: r.version() + 1, PrevHash: r.hashes[len(r.hashes)-1], Op: op, Member: member}
	switch op {
	case wire.RoomOpAdd:
		sk, ok := n.bindings[member]
		if !ok {
			return ErrNoBinding
		}
		i, known := r.index[member]
		if known && r.isMember(i, r.version()) {
			return fmt.Errorf("rooms: %s is a member already", member.Fingerprint())
		}
		if !known && len(r.roster) >= wire.MaxRoomMembers {
			return ErrRosterFull
		}
		e.SignKey = sk
	case wire.RoomOpRemove:
		i, ok := r.index[member]
		if !ok || !r.isMember(i, r.version()) || i == 0 {
			return fmt.Errorf("%w: cannot remove %s", ErrNotMember, member.Fingerprint())
		}
		e.SignKey = r.members[i].sign
	}
	raw := n.signEntry(r.id, &e)
	if !r.fits(raw) {
		return ErrLogFull
	}
	if err := n.applyLog(r, [][]byte{raw}); err != nil {
		return err
	}
	if op == wire.RoomOpAdd {
		n.sendTo(r, r.index[member], r.logDatagram(0), false) // its invitation: the whole log
		member = keys.PublicKey{}
	}
	n.broadcastLog(r, member)
	return nil
}

// broadcastLog sends the log's last entry to every member at its version
// and to also (a member it removes), but for a newcomer (invited with the
// whole log) and this one, at once. Status checksums repair what is lost.
func (n *Node) broadcastLog(r *room, also keys.PublicKey) {
	b := r.logDatagram(len(r.log) - 1)
	for i := range r.roster {
		if i != r.self && (r.isMember(i, r.version()) && r.members[i].added() != r.version() || r.roster[i] == also) {
			n.sendTo(r, i, b, true)
		}
	}
}

// SetTopic sets the room's topic (founder only): a log entry, so every
// member gets it, checked as the founder's, and keeps it.
func (n *Node) SetTopic(id RoomID, topic string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[id]
	switch {
	case r == nil:
		return ErrNoRoom
	case r.roster[0] != n.cfg.Self:
		return ErrNotFounder
	case len(topic) > wire.MaxRoomTopic || !utf8.ValidString(topic):
		return fmt.Errorf("%w: a topic is UTF-8 of at most %d bytes", wire.ErrTooBig, wire.MaxRoomTopic)
	}
	e := wire.RoomLogEntry{Version: r.version() + 1, PrevHash: r.hashes[len(r.hashes)-1], Op: wire.RoomOpTopic,
		Member: n.cfg.Self, SignKey: n.signPub, Topic: topic}
	raw := n.signEntry(r.id, &e)
	if !r.fits(raw) {
		return ErrLogFull
	}
	if err := n.applyLog(r, [][]byte{raw}); err != nil {
		return err
	}
	n.broadcastLog(r, keys.PublicKey{})
	return nil
}

// Topic returns the room's topic, "" if none was set.
func (n *Node) Topic(id RoomID) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r := n.rooms[id]; r != nil {
		return r.topic
	}
	return ""
}

// Send sends text to the room: stored first, then sealed to every member.
func (n *Node) Send(id RoomID, text []byte) (MessageID, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[id]
	if r == nil {
		return MessageID{}, ErrNoRoom
	}
	if !r.isMember(r.self, r.version()) || r.rec.Leaving {
		return MessageID{}, ErrNotMember
	}
	if len(text) > wire.MaxRoomText {
		return MessageID{}, fmt.Errorf("%w: a message of %d bytes", wire.ErrTooBig, len(text))
	}
	k := r.keys[keyRef{r.self, r.myEpoch}]
	if k == nil {
		return MessageID{}, fmt.Errorf("rooms: no sender key for epoch %d yet", r.myEpoch)
	}
	m := Message{Room: id, ID: MessageID{n.cfg.Self, r.senders[r.self].head + 1}, Epoch: r.myEpoch,
		Lamport: r.lamport + 1, Text: slices.Clone(text)}
	h := m.header()
	copy(m.Sig[:], ed25519.Sign(n.cfg.Sign, messageSigned(&h, m.Text)))
	sealed, err := seal(k.Key, &m)
	if err != nil {
		return MessageID{}, err
	}
	if err := n.accept(r, &m); err != nil {
		return MessageID{}, err
	}
	if n.post(r, sealed) {
		return m.ID, nil
	}
	for i := range r.roster {
		if i != r.self && r.isMember(i, m.Epoch) {
			n.sendTo(r, i, sealed, true)
		}
	}
	return m.ID, nil
}

// Messages returns the room's messages in the agreed order.
func (n *Node) Messages(id RoomID) []Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[id]
	if r == nil {
		return nil
	}
	out := make([]Message, 0, len(r.msgs))
	for _, m := range r.msgs {
		out = append(out, m.clone())
	}
	slices.SortFunc(out, func(a, b Message) int {
		return cmp.Or(compareOrder(a.Order(), b.Order()), cmp.Compare(a.ID.Seq, b.ID.Seq))
	})
	return out
}

// Delivery returns how many of the members a message was for (n: the
// members at its epoch but its sender) have acknowledged storing it (k).
func (n *Node) Delivery(id RoomID, msg MessageID) (k, total int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	missing, total := n.missing(id, msg)
	return total - len(missing), total
}

// Missing returns the members a message was for that have not acknowledged
// storing it yet.
func (n *Node) Missing(id RoomID, msg MessageID) []keys.PublicKey {
	n.mu.Lock()
	defer n.mu.Unlock()
	missing, _ := n.missing(id, msg)
	return missing
}

func (n *Node) missing(id RoomID, msg MessageID) (missing []keys.PublicKey, total int) {
	r := n.rooms[id]
	if r == nil {
		return nil, 0
	}
	m := r.msgs[msg]
	s, ok := r.index[msg.Sender]
	if m == nil || !ok {
		return nil, 0
	}
	for i := range r.roster {
		if i == s || !r.isMember(i, m.Epoch) {
			continue
		}
		total++
		if r.acked[i][s] < msg.Seq {
			missing = append(missing, r.roster[i])
		}
	}
	return missing, total
}

// Rooms lists this user's rooms, in a fixed order.
func (n *Node) Rooms() []RoomID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.roomOrder()
}

// Members returns the room's current members, founder first.
func (n *Node) Members(id RoomID) []keys.PublicKey {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[id]
	if r == nil {
		return nil
	}
	return r.current()
}

// current lists the members at the room's version, founder first.
func (r *room) current() []keys.PublicKey {
	var out []keys.PublicKey
	for i, k := range r.roster {
		if r.isMember(i, r.version()) {
			out = append(out, k)
		}
	}
	return out
}

// Version returns the room's membership version and the hash of its log.
func (n *Node) Version(id RoomID) (uint64, [32]byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[id]
	if r == nil {
		return 0, [32]byte{}
	}
	return r.version(), r.hashes[len(r.hashes)-1]
}

// Tick does what is due: gap and key requests still unanswered after
// GapRetry; each StatusPeriod a status to every member, and the requests a newcomer
// still owes itself (history). The chat calls it every second or so.
func (n *Node) Tick() {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.cfg.Now()
	for _, id := range n.roomOrder() {
		r := n.rooms[id]
		if !r.isMember(r.self, r.version()) {
			continue
		}
		for s := range r.senders {
			if st := &r.senders[s]; s != r.self && st.base != 0 && st.head < st.wanted {
				n.requestGap(r, st.wantedFrom, s, st.head+1, st.wanted)
			}
		}
		n.requestMissingKeys(r)
		if now.Before(r.nextStatus) {
			continue
		}
		r.nextStatus = now.Add(StatusPeriod)
		st := n.status(r)
		for i := range r.roster {
			if i != r.self && r.isMember(i, r.version()) {
				n.sendTo(r, i, st, true)
			}
		}
		n.requestHistory(r)
		if r.rec.Leaving {
			n.sendTo(r, 0, n.leaveDatagram(r), true) // until the founder's removal arrives
		}
		if r.self == 0 {
			for i := range r.roster {
				if i != r.self && r.isMember(i, r.version()) && !r.heard[i] {
					n.sendTo(r, i, r.logDatagram(0), false) // the invitation again
				}
			}
		}
	}
}

// roomOrder lists the rooms in a fixed order, so that runs repeat.
func (n *Node) roomOrder() []RoomID {
	ids := make([]RoomID, 0, len(n.rooms))
	for id := range n.rooms {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b RoomID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// Leave leaves the room for good: this member asks the founder, the only
// writer of the log, to remove it, and asks again each StatusPeriod until
// the removal arrives. From now on it sends no message to the room and
// shows nothing of it (it still stores, acknowledges and sends its status
// until the removal, as a member); the founder's removal makes every member's next key leave
// it out. The founder cannot leave (ErrFounderStays).
func (n *Node) Leave(id RoomID) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[id]
	switch {
	case r == nil:
		return ErrNoRoom
	case !r.isMember(r.self, r.version()) || r.rec.Leaving:
		return ErrNotMember
	case r.self == 0:
		return ErrFounderStays
	}
	rec := r.rec
	rec.Leaving = true
	if err := n.cfg.Storage.PutRoom(rec); err != nil {
		return err
	}
	r.rec = rec
	n.sendTo(r, 0, n.leaveDatagram(r), true)
	return nil
}

// Leaving reports whether this user left the room (Leave), until an
// invitation back is accepted.
func (n *Node) Leaving(id RoomID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[id]
	return r != nil && r.rec.Leaving
}

// In reports whether this user is in the room: a member that has not left.
func (n *Node) In(id RoomID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[id]
	return r != nil && !r.rec.Leaving && r.isMember(r.self, r.version())
}

// leaveDatagram is this member's signed request to be removed, tied to the
// version that last added it, so that it cannot remove it again once it is
// added back.
func (n *Node) leaveDatagram(r *room) []byte {
	d := wire.RoomDatagram{Type: wire.RoomLeave, Room: r.id, Epoch: r.members[r.self].added()}
	copy(d.Sig[:], ed25519.Sign(n.cfg.Sign, leaveSigned(r.id, n.cfg.Self, d.Epoch)))
	b, _ := wire.AppendRoom(nil, &d)
	return b
}
