package rooms

import (
	"slices"
	"sync"

	"github.com/udpchat/udpchat/internal/keys"
)

// Storage is what the core keeps across restarts. The chat will give it
// one backed by SQLite (internal/store); MemStorage keeps it in memory.
// Every Put is durable when it returns: the core acknowledges a message
// ("stored") only after PutMessage, and sends its own only after it.
//
// The SQLite one proposed (a migration of internal/store):
//
//	room_rooms(room BLOB PRIMARY KEY, history_done INT, cursor_lamport INT, cursor_sender BLOB)
//	room_log(room BLOB, version INT, entry BLOB, PRIMARY KEY(room, version))
//	room_keys(room BLOB, sender BLOB, epoch INT, prev_epoch INT, first_seq INT, key BLOB, sig BLOB,
//	          PRIMARY KEY(room, sender, epoch))
//	room_messages(room BLOB, sender BLOB, seq INT, epoch INT, lamport INT, text BLOB, sig BLOB,
//	          history INT, PRIMARY KEY(room, sender, seq))  -- INSERT OR IGNORE; index (room, lamport, sender)
//	room_delivery(room BLOB, member BLOB, sender BLOB, head INT, PRIMARY KEY(room, member, sender))
//	          -- upsert with head = max(head, excluded.head)
//
// Sender keys are secrets: the table lives in the same 0600 database as
// the history they protect.
type Storage interface {
	Rooms() ([]RoomRecord, error)
	PutRoom(RoomRecord) error
	// AppendLog adds a verified membership log entry; Log returns them in order.
	AppendLog(room RoomID, entry []byte) error
	Log(room RoomID) ([][]byte, error)
	// PutKey keeps a sender key (its signed announcement).
	PutKey(room RoomID, k SenderKey) error
	Keys(room RoomID) ([]SenderKey, error)
	// PutMessage keeps a message; putting one with the same ID again is a no-op.
	PutMessage(m Message) error
	Messages(room RoomID) ([]Message, error)
	// PutDelivery records that member has stored sender's messages up to
	// and including seq head (cumulative, from the start of its share).
	PutDelivery(room RoomID, d Delivery) error
	Deliveries(room RoomID) ([]Delivery, error)
}

// RoomRecord is the per-room state that is not in the log, keys or messages.
type RoomRecord struct {
	ID RoomID
	// HistoryDone: the history a newcomer is owed has all arrived.
	HistoryDone bool
	// HistoryCursor is the last history item received (its order key).
	HistoryCursor Order
}

// Delivery says member has sender's messages up to Head on disk.
type Delivery struct {
	Member, Sender keys.PublicKey
	Head           uint64
}

// MemStorage is a Storage in memory: for tests, and for a chat that keeps
// no history. Safe for concurrent use.
type MemStorage struct {
	mu    sync.Mutex
	rooms map[RoomID]*memRoom
	order []RoomID
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

func (s *MemStorage) room(id RoomID) *memRoom {
	r, ok := s.rooms[id]
	if !ok {
		r = &memRoom{rec: RoomRecord{ID: id}, seen: make(map[MessageID]bool), deliv: make(map[[2]keys.PublicKey]uint64)}
		s.rooms[id] = r
		s.order = append(s.order, id)
	}
	return r
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

func (s *MemStorage) PutRoom(r RoomRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.room(r.ID).rec = r
	return nil
}

func (s *MemStorage) AppendLog(room RoomID, entry []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.room(room)
	r.log = append(r.log, slices.Clone(entry))
	return nil
}

func (s *MemStorage) Log(room RoomID) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.room(room).log), nil
}

func (s *MemStorage) PutKey(room RoomID, k SenderKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.room(room)
	r.keys = append(r.keys, k)
	return nil
}

func (s *MemStorage) Keys(room RoomID) ([]SenderKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.room(room).keys), nil
}

func (s *MemStorage) PutMessage(m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.room(m.Room)
	if r.seen[m.ID] {
		return nil
	}
	r.seen[m.ID] = true
	m.Text = slices.Clone(m.Text)
	r.msgs = append(r.msgs, m)
	return nil
}

func (s *MemStorage) Messages(room RoomID) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.room(room).msgs), nil
}

func (s *MemStorage) PutDelivery(room RoomID, d Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.room(room).deliv[[2]keys.PublicKey{d.Member, d.Sender}] = d.Head
	return nil
}

func (s *MemStorage) Deliveries(room RoomID) ([]Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Delivery
	for k, h := range s.room(room).deliv {
		out = append(out, Delivery{Member: k[0], Sender: k[1], Head: h})
	}
	return out, nil
}
