package rooms

import (
	"fmt"
	"slices"
	"sync"

	"github.com/udpchat/udpchat/internal/keys"
)

// Storage is what the core keeps across restarts. The chat gives it one
// backed by SQLite (internal/rooms/roomstore, over internal/store's schemas
// 6 and 10); MemStorage keeps it in memory.
//
// Every write is durable when it returns: the core acknowledges a message
// ("stored") only after PutMessage, and sends its own only after it. A room
// comes into being with AddRoom, its record and log so far in one step, so
// that a crash never leaves a room whose log lacks this user (which could
// not be loaded); the other writes are to a room added before, and return
// an error otherwise. Reads of a room never added return nothing.
//
// Sender keys are secrets: they live in the same 0600 database as the
// history they protect.
type Storage interface {
	// AddRoom keeps a room this user founded or joined, with its verified
	// membership log so far, all or nothing.
	AddRoom(rec RoomRecord, log [][]byte) error
	// Rooms returns every room's record, in the order they were added.
	Rooms() ([]RoomRecord, error)
	// PutRoom replaces a room's record.
	PutRoom(RoomRecord) error
	// AppendLog adds a verified membership log entry; Log returns them in order.
	AppendLog(room RoomID, entry []byte) error
	Log(room RoomID) ([][]byte, error)
	// PutKey keeps a sender key (its signed announcement); one the room
	// has for that sender and epoch already stays as it is.
	PutKey(room RoomID, k SenderKey) error
	Keys(room RoomID) ([]SenderKey, error)
	// PutMessage keeps a message; putting one with the same ID again is a no-op.
	PutMessage(m Message) error
	Messages(room RoomID) ([]Message, error)
	// PutDelivery records that member has stored sender's messages up to
	// and including seq head (cumulative, from the start of its share).
	// Heads only grow: a smaller one than that kept changes nothing.
	PutDelivery(room RoomID, d Delivery) error
	Deliveries(room RoomID) ([]Delivery, error)
	// PutInvitation keeps a verified invitation waiting for the user's
	// consent, replacing one to the same room; Invitations returns them in
	// the order they first came; DropInvitation forgets one (joined).
	PutInvitation(inv Invitation) error
	Invitations() ([]Invitation, error)
	DropInvitation(room RoomID) error
}

// Invitation is a pending invitation as kept: the room, the label it came
// with (the founder's name for the room, R0) and its log datagram as it
// came, which the core verifies again when it loads it.
type Invitation struct {
	Room  RoomID
	Label string
	Log   []byte
}

// RoomRecord is the per-room state that is not in the log, keys or messages.
type RoomRecord struct {
	ID RoomID
	// HistoryDone: the history a newcomer is owed has all arrived.
	HistoryDone bool
	// HistoryCursor is the last history item received (its order key).
	HistoryCursor Order
	// Leaving: this user left the room (Node.Leave); it asks the founder
	// to remove it until the removal arrives, and a later invitation back
	// clears it.
	Leaving bool
}

// Delivery says member has sender's messages up to Head on disk.
type Delivery struct {
	Member, Sender keys.PublicKey
	Head           uint64
}

// MemStorage is a Storage in memory: for tests, and for a chat that keeps
// no history. Safe for concurrent use.
type MemStorage struct {
	mu      sync.Mutex
	rooms   map[RoomID]*memRoom
	order   []RoomID
	invites []Invitation
}

type memRoom struct {
	rec   RoomRecord
	log   [][]byte
	keys  []SenderKey
	msgs  []Message
	seen  map[MessageID]bool
	deliv map[[2]keys.PublicKey]uint64
}

// NewMemStorage returns an empty MemStorage.
func NewMemStorage() *MemStorage { return &MemStorage{rooms: make(map[RoomID]*memRoom)} }

// room returns the room id, or nil if it was never added.
func (s *MemStorage) room(id RoomID) *memRoom { return s.rooms[id] }

// write runs fn on the room id under the lock, or says there is none.
func (s *MemStorage) write(id RoomID, fn func(*memRoom)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[id]
	if r == nil {
		return fmt.Errorf("%w: %x", ErrNoRoom, id)
	}
	fn(r)
	return nil
}

func (s *MemStorage) AddRoom(rec RoomRecord, log [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[rec.ID] != nil {
		return fmt.Errorf("rooms: room %x added twice", rec.ID)
	}
	r := &memRoom{rec: rec, seen: make(map[MessageID]bool), deliv: make(map[[2]keys.PublicKey]uint64)}
	for _, e := range log {
		r.log = append(r.log, slices.Clone(e))
	}
	s.rooms[rec.ID] = r
	s.order = append(s.order, rec.ID)
	return nil
}

func (s *MemStorage) Rooms() ([]RoomRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RoomRecord
	for _, id := range s.order {
		out = append(out, s.rooms[id].rec)
	}
	return out, nil
}

func (s *MemStorage) PutRoom(rec RoomRecord) error {
	return s.write(rec.ID, func(r *memRoom) { r.rec = rec })
}

func (s *MemStorage) AppendLog(room RoomID, entry []byte) error {
	return s.write(room, func(r *memRoom) { r.log = append(r.log, slices.Clone(entry)) })
}

func (s *MemStorage) Log(room RoomID) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.room(room); r != nil {
		return slices.Clone(r.log), nil
	}
	return nil, nil
}

func (s *MemStorage) PutKey(room RoomID, k SenderKey) error {
	return s.write(room, func(r *memRoom) {
		if !slices.ContainsFunc(r.keys, func(o SenderKey) bool { return o.Sender == k.Sender && o.Epoch == k.Epoch }) {
			r.keys = append(r.keys, k)
		}
	})
}

func (s *MemStorage) Keys(room RoomID) ([]SenderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.room(room); r != nil {
		return slices.Clone(r.keys), nil
	}
	return nil, nil
}

func (s *MemStorage) PutMessage(m Message) error {
	return s.write(m.Room, func(r *memRoom) {
		if !r.seen[m.ID] {
			r.seen[m.ID] = true
			r.msgs = append(r.msgs, m.clone())
		}
	})
}

func (s *MemStorage) Messages(room RoomID) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.room(room); r != nil {
		return slices.Clone(r.msgs), nil
	}
	return nil, nil
}

func (s *MemStorage) PutDelivery(room RoomID, d Delivery) error {
	return s.write(room, func(r *memRoom) {
		k := [2]keys.PublicKey{d.Member, d.Sender}
		r.deliv[k] = max(r.deliv[k], d.Head)
	})
}

func (s *MemStorage) Deliveries(room RoomID) ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.room(room)
	if r == nil {
		return nil, nil
	}
	var out []Delivery
	for k, h := range r.deliv {
		out = append(out, Delivery{Member: k[0], Sender: k[1], Head: h})
	}
	return out, nil
}

func (s *MemStorage) PutInvitation(inv Invitation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv.Log = slices.Clone(inv.Log)
	if i := slices.IndexFunc(s.invites, func(o Invitation) bool { return o.Room == inv.Room }); i >= 0 {
		s.invites[i] = inv
	} else {
		s.invites = append(s.invites, inv)
	}
	return nil
}

func (s *MemStorage) Invitations() ([]Invitation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.invites), nil
}

func (s *MemStorage) DropInvitation(room RoomID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invites = slices.DeleteFunc(s.invites, func(o Invitation) bool { return o.Room == room })
	return nil
}
