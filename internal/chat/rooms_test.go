package chat

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/udpchat/udpchat/internal/link/linktest"
	"github.com/udpchat/udpchat/internal/wire"
)

// fakeCarrier records what the node hands a RoomCarrier.
type fakeCarrier struct {
	Rooms    // nil: the tests here call none of the UI's methods
	mu       sync.Mutex
	payloads [][32]byte // the sender of each room payload
	ups      [][32]byte
	downs    [][32]byte
}

func (c *fakeCarrier) RoomPayload(person [32]byte, _ []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.payloads = append(c.payloads, person)
}

func (c *fakeCarrier) PersonUp(person [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ups = append(c.ups, person)
}

func (c *fakeCarrier) PersonDown(person [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.downs = append(c.downs, person)
}

// Room payloads go to the carrier by the sender's key, never to the chat;
// a person is up once joined and down once gone; SendRoom reaches a joined
// person only. Without a carrier a room payload is dropped and counted.
func TestRoomPayloadsGoToTheCarrier(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, l, _ := newPeopleNode(t, s, Config{})
	payload, err := wire.AppendRoomPayload(nil, "", []byte{byte(wire.RoomBinding)})
	if err != nil {
		t.Fatal(err)
	}
	join(t, n, bob, "bob")
	if err := n.Receive(bob, payload); err != nil {
		t.Fatal(err)
	}
	if got := n.Stats().Undecodable; got != 1 {
		t.Errorf("a room payload with no carrier: %d undecodable, want 1", got)
	}

	c := &fakeCarrier{}
	n.CarryRooms(c)
	if n.Rooms() == nil {
		t.Fatal("Rooms() is nil with a carrier")
	}
	if err := n.Receive(bob, payload); err != nil {
		t.Fatal(err)
	}
	join(t, n, carol, "carol")
	n.PeerUnreachable(carol)
	if err := n.SendRoom(carolPerson, payload); !errors.Is(err, ErrNotConnected) {
		t.Errorf("SendRoom to unreachable carol: %v, want ErrNotConnected", err)
	}
	if err := n.SendRoom(bobPerson, payload); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Equal(c.payloads, [][32]byte{bobPerson}) || !slices.Equal(c.ups, [][32]byte{carolPerson}) || !slices.Equal(c.downs, [][32]byte{carolPerson}) {
		t.Errorf("carrier got payloads from %x, ups %x, downs %x; want bob's, carol up, carol down", c.payloads, c.ups, c.downs)
	}
	if !slices.ContainsFunc(l.Sent(), func(s linktest.Send) bool { return s.Peer == bob && wire.IsRoomPayload(s.Msg) }) {
		t.Error("SendRoom sent nothing to bob")
	}
	for _, ev := range drain(n) {
		if m, ok := ev.(Message); ok {
			t.Errorf("a room payload showed as a chat message: %+v", m)
		}
	}
}
