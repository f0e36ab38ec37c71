package roomstore_test

import (
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/rooms"
	"github.com/udpchat/udpchat/internal/rooms/roomstore"
	"github.com/udpchat/udpchat/internal/rooms/storagetest"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// openDB opens the database in dir, closed when the test ends.
func openDB(t *testing.T, dir string) *store.MessageDB {
	t.Helper()
	db, err := store.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The SQLite Storage behaves as MemStorage does, and a restart (the
// database closed and opened again) finds everything as it was put.
func TestStorage(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) (rooms.Storage, func() rooms.Storage) {
		dir := t.TempDir()
		db := openDB(t, dir)
		return roomstore.New(db), func() rooms.Storage {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openDB(t, dir)
			return roomstore.New(db)
		}
	})
}

// member is one user of TestRestart: a node over its own database.
type member struct {
	self keys.PublicKey
	sign ed25519.PrivateKey
	dir  string
	db   *store.MessageDB
	node *rooms.Node
}

// Two members talk in a room, each restarts from its database in turn
// (closed and opened again): the room, its members and version, the
// messages in their order, the k/n of each are all back, the member goes
// on with its own seq where it was, and reads the other's next message
// (its sender keys are back too).
func TestRestart(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var ms [2]*member
	start := func(m *member) {
		t.Helper()
		if m.db != nil {
			if err := m.db.Close(); err != nil {
				t.Fatal(err)
			}
		}
		m.db = openDB(t, m.dir)
		node, err := rooms.New(rooms.Config{Self: m.self, Sign: m.sign, Storage: roomstore.New(m.db),
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		m.node = node
	}
	for i := range ms {
		_, sign, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = &member{self: keys.PublicKey{0: 0xEE, 31: byte(i)}, sign: sign, dir: t.TempDir()}
		start(ms[i])
	}
	// carry delivers what each sent, and ticks both, until neither has
	// anything to send (bounded: a few rounds settle two members).
	carry := func() {
		t.Helper()
		for range 50 {
			now = now.Add(rooms.StatusPeriod)
			sent := 0
			for i, m := range ms {
				m.node.Tick()
				for _, o := range m.node.Outbox() {
					sent++
					to := ms[1-i]
					if o.To != to.self {
						t.Fatalf("a datagram for %v, not the other member", o.To)
					}
					to.node.Receive(m.self, o.Datagram)
				}
			}
			if sent == 0 {
				return
			}
		}
	}
	for i, m := range ms {
		if err := ms[1-i].node.Receive(m.self, m.node.Binding()); err != nil {
			t.Fatal(err)
		}
	}
	room, err := ms[0].node.Create(wire.RoomHistoryAll, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ms[0].node.Add(room, ms[1].self); err != nil {
		t.Fatal(err)
	}
	carry()
	send := func(i int, text string) rooms.MessageID {
		t.Helper()
		id, err := ms[i].node.Send(room, []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		carry()
		return id
	}
	send(0, "one")
	send(1, "two")
	send(0, "three")
	for round, i := range []int{1, 0, 1} {
		m := ms[i]
		before := m.node.Messages(room)
		version, hash := m.node.Version(room)
		k, n := delivery(m.node, room, before)
		if len(before) < 3 || !slices.Equal(k, n) {
			t.Fatalf("round %d, before the restart: member %d has %d messages, %v of %v delivered; want all", round, i, len(before), k, n)
		}
		start(m)
		if v, h := m.node.Version(room); v != version || h != hash {
			t.Errorf("member %d after its restart: version %d, want %d (or another log)", i, v, version)
		}
		if got := m.node.Members(room); !slices.Equal(got, []keys.PublicKey{ms[0].self, ms[1].self}) {
			t.Errorf("member %d after its restart: members %v", i, got)
		}
		after := m.node.Messages(room)
		if !slices.EqualFunc(before, after, sameMessage) {
			t.Errorf("member %d after its restart: messages %q, want %q", i, texts(after), texts(before))
		}
		if k2, n2 := delivery(m.node, room, after); !slices.Equal(k, k2) || !slices.Equal(n, n2) {
			t.Errorf("member %d after its restart: %v of %v delivered, want %v of %v", i, k2, n2, k, n)
		}
		var last uint64
		for _, msg := range before {
			if msg.ID.Sender == m.self {
				last = max(last, msg.ID.Seq)
			}
		}
		if id := send(i, "after a restart"); id.Seq != last+1 {
			t.Errorf("member %d's first message after its restart has seq %d, want %d", i, id.Seq, last+1)
		}
		send(1-i, "to the restarted")
		got := m.node.Messages(room)
		if len(got) != len(before)+2 || string(got[len(got)-1].Text) != "to the restarted" {
			t.Errorf("member %d after its restart: messages %q, want the other's next one last", i, texts(got))
		}
	}
}

// delivery returns each message's k and n (Node.Delivery).
func delivery(n *rooms.Node, room rooms.RoomID, msgs []rooms.Message) (k, total []int) {
	for _, m := range msgs {
		a, b := n.Delivery(room, m.ID)
		k, total = append(k, a), append(total, b)
	}
	return k, total
}

func sameMessage(a, b rooms.Message) bool {
	return a.ID == b.ID && a.Lamport == b.Lamport && a.Epoch == b.Epoch && string(a.Text) == string(b.Text) &&
		a.Sig == b.Sig && a.History == b.History && a.Room == b.Room
}

func texts(ms []rooms.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Text)
	}
	return out
}
