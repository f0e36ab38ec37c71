package relay

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
)

// roomCluster is a Cluster with no other relays that records what the
// relay tells it of rooms.
type roomCluster struct {
	mu        sync.Mutex
	joined    map[RoomID]bool
	published int
}

func (*roomCluster) Announce(keys.PublicKey, []netip.AddrPort) {}
func (*roomCluster) Locate(keys.PublicKey) (Remote, bool)      { return Remote{}, false }
func (*roomCluster) Send(string, []byte) bool                  { return true }

func (c *roomCluster) JoinRoom(room RoomID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.joined[room] = true
}

func (c *roomCluster) LeaveRoom(room RoomID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.joined, room)
}

func (c *roomCluster) PublishRoom(RoomID, []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.published++
	return true
}

func (c *roomCluster) posts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.published
}

func (c *roomCluster) rooms() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.joined)
}

func TestRoomSubscriptionsBoundedAndGoneWithTheRegistration(t *testing.T) {
	clock := newFakeClock()
	cl := &roomCluster{joined: make(map[RoomID]bool)}
	r := startRelay(t, Config{Now: clock.Now, Cluster: cl})
	alice, bob := startClient(t, r, newKey(t)), startClient(t, r, newKey(t))
	for i := range MaxRoomsPerClient + 1 {
		if err := alice.SubscribeRoom(RoomID{byte(i), 1}, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := bob.SubscribeRoom(RoomID{0, 1}, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice's rooms up to the bound, and the one over it dropped", func() bool {
		return r.Stats().Drops[DropRoomsFull] == 1 && r.RoomSubscribers(RoomID{0, 1}) == 2
	})
	if st := r.Stats(); st.Rooms != MaxRoomsPerClient || cl.rooms() != MaxRoomsPerClient {
		t.Fatalf("%d rooms here, %d joined in the cluster; want %d", st.Rooms, cl.rooms(), MaxRoomsPerClient)
	}
	if err := bob.PostRoom(RoomID{0, 1}, []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	d := receive(t, alice.rooms, "bob's post")
	if d.from != bob.public() || string(d.data) != "sealed" {
		t.Fatalf("alice got %q from %s", d.data, d.from.Fingerprint())
	}
	if n := cl.posts(); n != 1 {
		t.Errorf("%d posts published to the cluster, want 1", n)
	}

	// Alice's registration expires: her rooms go, bob's stays.
	clock.Advance(70 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := bob.Register(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Second)
	if _, err := bob.Register(ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Rooms != 1 || cl.rooms() != 1 || r.RoomSubscribers(RoomID{0, 1}) != 1 {
		t.Fatalf("after alice expired: %d rooms here, %d joined in the cluster; want bob's 1", st.Rooms, cl.rooms())
	}
}
