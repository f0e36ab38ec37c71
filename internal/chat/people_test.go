package chat

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/link/linktest"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

var (
	bobPerson   = [32]byte{0xb0, 0xb}
	carolPerson = [32]byte{0xca, 0x20}
	// bobMoved is bob back from another port.
	bobMoved = netip.MustParseAddrPort("10.0.0.2:9999")
)

// keyedIdentities is a PeerCheck that knows the key of each address's
// session and accepts every name.
type keyedIdentities struct {
	mu   sync.Mutex
	keys map[netip.AddrPort][32]byte
}

func (k *keyedIdentities) Fingerprint(netip.AddrPort) string      { return "" }
func (k *keyedIdentities) CheckName(netip.AddrPort, string) error { return nil }

func (k *keyedIdentities) PeerKey(peer netip.AddrPort) ([32]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.keys[peer]
	return key, ok
}

func (k *keyedIdentities) set(peer netip.AddrPort, key [32]byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[peer] = key
}

// forgetfulLink is a fake link that records what it is told to forget.
type forgetfulLink struct {
	*linktest.Link
	mu     sync.Mutex
	forgot []netip.AddrPort
}

func (l *forgetfulLink) Forget(peer netip.AddrPort) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgot = append(l.forgot, peer)
	return nil
}

func (l *forgetfulLink) forgotten() []netip.AddrPort {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.forgot)
}

// newPeopleNode returns alice's node with a store, on a link with keys:
// bob's session is keyed bobPerson at both his addresses, carol's carolPerson.
func newPeopleNode(t *testing.T, s *testStore, cfg Config) (*Node, *forgetfulLink, *keyedIdentities) {
	t.Helper()
	ids := &keyedIdentities{keys: map[netip.AddrPort][32]byte{bob: bobPerson, bobMoved: bobPerson, carol: carolPerson}}
	l := &forgetfulLink{Link: linktest.New(ourAddr)}
	cfg.Name, cfg.Store, cfg.PeerCheck = "alice", s, ids
	n, err := New(cfg, func(h link.Handler) (link.Link, error) {
		if _, err := l.Open(h); err != nil {
			return nil, err
		}
		return l, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n, l, ids
}

// join plays peer's session coming up and its hello as name.
func join(t *testing.T, n *Node, peer netip.AddrPort, name string) {
	t.Helper()
	n.PeerUp(peer)
	if err := n.Receive(peer, chatPayload(t, wire.ChatHello, name, "")); err != nil {
		t.Fatal(err)
	}
}

// drain empties n's events, returning them.
func drain(n *Node) []Event {
	var evs []Event
	for {
		select {
		case ev := <-n.Events():
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// texts are the chat messages (not hellos, not features) the link was
// given for peer, in order.
func texts(t *testing.T, sends []linktest.Send, peer netip.AddrPort) (out []string) {
	t.Helper()
	for _, s := range sends {
		if m := parseSend(t, s); s.Peer == peer && isMessage(m.Kind) {
			out = append(out, m.Text)
		}
	}
	return out
}

// Every message with a peer whose key is known carries it, and a peer that
// joins is a contact: by flag when the user chose it, by packet when it
// wrote first.
func TestMessagesAndContactsAreByPerson(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, _, _ := newPeopleNode(t, s, Config{})
	if err := n.ConnectKept(bob); err != nil {
		t.Fatal(err)
	}
	join(t, n, bob, "bob")
	join(t, n, carol, "carol")
	if err := n.Receive(carol, chatPayload(t, wire.ChatText, "carol", "hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send("hello both"); err != nil {
		t.Fatal(err)
	}
	ms, err := s.History(context.Background(), store.Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 {
		t.Fatalf("%d messages stored, want 3", len(ms))
	}
	for _, m := range ms {
		want := map[string][32]byte{PeerKey(bob): bobPerson, PeerKey(carol): carolPerson}[m.Peer]
		if m.Person != want {
			t.Errorf("%s %q with %s has person %x, want %x", m.Direction, m.Text, m.Peer, m.Person[:2], want[:2])
		}
	}
	for key, want := range map[[32]byte]store.Endpoint{
		bobPerson:   {Address: PeerKey(bob), Source: store.FromFlag},
		carolPerson: {Address: PeerKey(carol), Source: store.FromPacket},
	} {
		c, err := s.Contact(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Endpoints) != 1 || c.Endpoints[0].Address != want.Address || c.Endpoints[0].Source != want.Source {
			t.Errorf("contact %s has endpoints %+v, want %s by %s", c.AnnouncedName, c.Endpoints, want.Address, want.Source)
		}
	}
}

// The complaint: bob comes back from another port while a message
// waits for him at the old one. It goes to him there, once; the link
// retries nothing at the old address, which the peer list drops; delivery
// is recorded, and shown against the Sent the UI has.
func TestOutboxFollowsThePersonToAnotherPort(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, l, _ := newPeopleNode(t, s, Config{})
	if err := n.ConnectKept(bob); err != nil {
		t.Fatal(err)
	}
	join(t, n, bob, "bob")
	sent, err := n.Send("are you there?")
	if err != nil || len(sent) != 1 {
		t.Fatalf("Send: %v, %v", sent, err)
	}
	n.PeerUnreachable(bob)
	drain(n)
	l.Take()

	join(t, n, bobMoved, "bob")
	sends := l.Take()
	if got := texts(t, sends, bobMoved); !slices.Equal(got, []string{"are you there?"}) {
		t.Fatalf("bob at his new port got %q, want the message waiting for him", got)
	}
	if got := l.forgotten(); !slices.Equal(got, []netip.AddrPort{bob}) {
		t.Errorf("the link forgot %v, want bob's old address", got)
	}
	var ref uint64
	for _, f := range sends {
		if m := parseSend(t, f); m.ID == sent[0].ID {
			ref = f.Ref
		}
	}
	n.Delivered(bobMoved, ref)
	if st := stateOf(t, s, bob, sent[0].ID); st != store.Delivered {
		t.Errorf("the message is %v in the store, want delivered", st)
	}
	var delivered []Event
	for _, ev := range drain(n) {
		if d, ok := ev.(Delivered); ok {
			delivered = append(delivered, d)
		}
	}
	if want := (Delivered{ID: sent[0].ID, To: bob}); len(delivered) != 1 || delivered[0] != want {
		t.Errorf("delivery events %v, want %v", delivered, want)
	}
	var addrs []netip.AddrPort
	for _, p := range n.Peers() {
		addrs = append(addrs, p.Addr)
	}
	if !slices.Equal(addrs, []netip.AddrPort{bobMoved}) {
		t.Errorf("peers at %v, want bob at his new address only", addrs)
	}
	if got := n.Unanswered(); len(got) != 0 {
		t.Errorf("unanswered: %v, want none (bob answered from elsewhere)", got)
	}
}

// At start, what waits for a person goes where the contacts last saw
// them, not where it was first written to.
func TestOutboxGoesWhereThePersonWasLastSeen(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	ctx := context.Background()
	id := newID()
	if err := s.AddOutgoing(ctx, store.Message{ID: id, Peer: PeerKey(bob), Kind: int(wire.ChatText), Name: "alice", Text: "waiting", Person: bobPerson}); err != nil {
		t.Fatal(err)
	}
	if err := s.ContactSeen(ctx, store.Sighting{Key: bobPerson, AnnouncedName: "bob", Address: PeerKey(bobMoved), Source: store.FromPacket}); err != nil {
		t.Fatal(err)
	}
	n, l, _ := newPeopleNode(t, s, Config{})
	drain(n)
	join(t, n, bobMoved, "bob")
	if got := texts(t, l.Take(), bobMoved); !slices.Equal(got, []string{"waiting"}) {
		t.Fatalf("bob at his last address got %q, want what waits for him", got)
	}
	if got := n.Unanswered(); len(got) != 0 {
		t.Errorf("unanswered: %v, want none", got)
	}
}

// The one-time move of an address-kept history: addresses with a known key
// become that person; what cannot be mapped is said once, and a second
// start says nothing.
func TestHistoryMovesToPeopleOnce(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	ctx := context.Background()
	for _, peer := range []netip.AddrPort{bob, carol} {
		if _, err := s.AddIncoming(ctx, store.Message{ID: newID(), Peer: PeerKey(peer), Kind: int(wire.ChatText), Name: "someone", Text: "old"}); err != nil {
			t.Fatal(err)
		}
	}
	known := map[netip.AddrPort][32]byte{bob: bobPerson}
	n, _, _ := newPeopleNode(t, s, Config{KnownKeys: known})
	want := HistoryByAddress{Messages: 1, Addresses: []string{PeerKey(carol)}}
	got, ok := nextEvent(t, n).(HistoryByAddress)
	if !ok || got.Messages != want.Messages || !slices.Equal(got.Addresses, want.Addresses) {
		t.Fatalf("first event %#v, want %#v", got, want)
	}
	ms, err := s.History(ctx, store.Query{Peers: []string{PeerKey(bob)}, Limit: 10})
	if err != nil || len(ms) != 1 || ms[0].Person != bobPerson {
		t.Fatalf("bob's history %+v (%v), want his message with his key", ms, err)
	}
	n.Close(ctx)

	again, _, _ := newPeopleNode(t, s, Config{KnownKeys: known})
	for _, ev := range drain(again) {
		if _, ok := ev.(HistoryByAddress); ok {
			t.Errorf("the second start said %v again", ev)
		}
	}
}

// /forget of a person drops them from the contacts and cancels what waits
// for them, wherever it was queued.
func TestForgetDropsThePerson(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, _, _ := newPeopleNode(t, s, Config{})
	if err := n.ConnectKept(bob); err != nil {
		t.Fatal(err)
	}
	join(t, n, bob, "bob")
	sent, err := n.Send("never mind")
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := n.Forget(bob)
	if err != nil || len(cancelled) != 1 || cancelled[0].ID != sent[0].ID {
		t.Fatalf("Forget: %v, %v; want the message cancelled", cancelled, err)
	}
	if _, err := s.Contact(context.Background(), bobPerson); !errors.Is(err, store.ErrNoContact) {
		t.Errorf("bob's contact after Forget: %v, want ErrNoContact", err)
	}
	if st := stateOf(t, s, bob, sent[0].ID); st != store.Cancelled {
		t.Errorf("the message is %v, want cancelled", st)
	}
}

// /rename: the person is called by the given name in the peer list (which
// keeps the announced one), in what they say, and in later runs.
func TestRenameNamesThePerson(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	n, _, _ := newPeopleNode(t, s, Config{})
	if err := n.Rename(carol, "caz"); !errors.Is(err, ErrUnknownPeer) {
		t.Errorf("Rename of a peer not there: %v, want ErrUnknownPeer", err)
	}
	join(t, n, carol, "carol")
	if err := n.Rename(carol, "caz"); err != nil {
		t.Fatal(err)
	}
	drain(n)
	if ps := n.Peers(); len(ps) != 1 || ps[0].Name != "caz" || ps[0].Announced != "carol" {
		t.Errorf("peers %+v, want caz, who calls herself carol", ps)
	}
	if err := n.Receive(carol, chatPayload(t, wire.ChatText, "carol", "hi")); err != nil {
		t.Fatal(err)
	}
	if m, ok := nextEvent(t, n).(Message); !ok || m.Name != "caz" {
		t.Errorf("carol's message came as %#v, want from caz", m)
	}
	c, err := s.Contact(context.Background(), carolPerson)
	if err != nil || c.Name() != "caz" {
		t.Errorf("contact %+v (%v), want named caz", c, err)
	}
}

// A peer whose session roams (the link keeps it, under its first address)
// is seen at the new one: that is where the outbox looks for them next.
func TestRoamedPersonIsSeenWhereTheyAre(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, _, _ := newPeopleNode(t, s, Config{})
	join(t, n, bob, "bob")
	n.PeerRoamed(bob, bobMoved)
	c, err := s.Contact(context.Background(), bobPerson)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Endpoints) == 0 || c.Endpoints[0].Address != PeerKey(bobMoved) {
		t.Errorf("bob's endpoints %+v, want %s newest", c.Endpoints, bobMoved)
	}
}

// What is sent, at a new start, to a --peer that is not up yet is for the
// person who answered there before: it follows them to another port too.
func TestOutboxForAKnownAddressFollowsItsPerson(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, l, _ := newPeopleNode(t, s, Config{KnownKeys: map[netip.AddrPort][32]byte{bob: bobPerson}})
	if err := n.ConnectKept(bob); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send("while you were away"); err != nil {
		t.Fatal(err)
	}
	pending, err := s.PendingTo(context.Background(), bobPerson)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending to bob by key: %+v (%v), want the message", pending, err)
	}
	join(t, n, bobMoved, "bob")
	if got := texts(t, l.Take(), bobMoved); !slices.Equal(got, []string{"while you were away"}) {
		t.Errorf("bob at another port got %q, want what waited for him", got)
	}
}

// Someone heard on the LAN is never made a contact (a beacon proves
// nothing), and where they announced from never becomes an endpoint; a
// contact heard so is marked as nearby, for `udpchat contacts`.
func TestNearbyMarksOnlyContacts(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	n, _, _ := newPeopleNode(t, s, Config{})
	lan := netip.MustParseAddrPort("192.0.2.7:7475")
	// Heard before he is a contact; marked when he joins.
	n.SawNearby(Nearby{Name: "bob", Fingerprint: "BLAKE2s:BOB", Addr: lan, Key: bobPerson})
	join(t, n, bob, "bob")
	n.SawNearby(Nearby{Name: "carol", Fingerprint: "BLAKE2s:CAROL", Addr: lan, Key: carolPerson})
	ctx := context.Background()
	c, err := s.Contact(ctx, bobPerson)
	if err != nil {
		t.Fatal(err)
	}
	if c.NearbyAt.IsZero() {
		t.Error("bob, a contact heard nearby, is not marked as nearby")
	}
	for _, e := range c.Endpoints {
		if e.Address == PeerKey(lan) {
			t.Errorf("bob's announced address %s became an endpoint: %+v", lan, c.Endpoints)
		}
	}
	if _, err := s.Contact(ctx, carolPerson); !errors.Is(err, store.ErrNoContact) {
		t.Errorf("carol, only heard nearby, is a contact (err %v)", err)
	}
}
