package roomchat_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/chat/roomchat"
	"github.com/udpchat/udpchat/internal/rooms"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// member is one person of a test: a chat node on the in-memory network,
// its rooms, and the room events it showed.
type member struct {
	name, addr string
	node       *chat.Node
	rooms      *roomchat.Bridge
	events     chan chat.Event
	shown      map[string]int // room messages shown, by text
	backlog    []chat.Event   // events read that no await took yet
}

func start(t *testing.T, mn *udptest.MemNetwork, name, addr string) *member {
	t.Helper()
	return startMember(t, mn, name, addr, memberOptions{})
}

// startWithFiles is start for a member that takes files as files says.
func startWithFiles(t *testing.T, mn *udptest.MemNetwork, name, addr string, files chat.FileConfig) *member {
	t.Helper()
	return startMember(t, mn, name, addr, memberOptions{files: files})
}

// memberOptions are how a member of a test differs from start's: the
// files it takes, the size above which its rooms go through a relay's
// fan-out (0: the default), and its rooms' clock (nil: time.Now).
type memberOptions struct {
	files       chat.FileConfig
	fanoutAbove int
	now         func() time.Time
}

// startMember is start for a member as opt says.
func startMember(t *testing.T, mn *udptest.MemNetwork, name, addr string, opt memberOptions) *member {
	t.Helper()
	m := &member{name: name, addr: addr, events: make(chan chat.Event, 4096), shown: map[string]int{}}
	m.node = chattest.KeyedFilesNode(t, mn, addr, name, opt.files)
	_, sign, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m.rooms, err = roomchat.Start(roomchat.Config{Node: m.node, Self: chattest.PersonKey(addr), Sign: sign,
		Storage: rooms.NewMemStorage(), Labels: filepath.Join(t.TempDir(), "rooms.json"), FanoutAbove: opt.fanoutAbove, Now: opt.now})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev := range m.node.Events() {
			switch ev.(type) {
			case chat.RoomMessage, chat.RoomInvite, chat.RoomDelivery, chat.MembersChanged, chat.RoomTopic,
				chat.FileOffer, chat.FileDone, chat.FileFailed:
				m.events <- ev
			}
		}
	}()
	t.Cleanup(func() {
		m.rooms.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		m.node.Close(ctx)
	})
	return m
}

// await returns m's first room event not yet awaited that ok accepts,
// failing the test if none comes in time.
func await[E chat.Event](t *testing.T, m *member, ok func(E) bool) E {
	t.Helper()
	take := func(ev chat.Event) (E, bool) {
		e, is := ev.(E)
		return e, is && ok(e)
	}
	for i, ev := range m.backlog {
		if e, is := take(ev); is {
			m.backlog = slices.Delete(m.backlog, i, i+1)
			return e
		}
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-m.events:
			if e, is := take(ev); is {
				return e
			}
			m.backlog = append(m.backlog, ev)
		case <-deadline:
			var zero E
			t.Fatalf("%s: no %T in time", m.name, zero)
			return zero
		}
	}
}

// eventually waits for cond, checking it as time passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("not in time: %s", what)
		}
	}
}

// roomOfThree starts alice, bob and carol, connected to each other; alice
// founds room ops and invites the others, who see the invitation (who, and
// the members) and join by choice. It returns once every member sees three.
func roomOfThree(t *testing.T) (alice, bob, carol *member) {
	t.Helper()
	mn := udptest.NewMemNetwork()
	alice = start(t, mn, "alice", "10.0.0.1:7000")
	bob = start(t, mn, "bob", "10.0.0.2:7000")
	carol = start(t, mn, "carol", "10.0.0.3:7000")
	formRoom(t, [][2]*member{{alice, bob}, {alice, carol}, {bob, carol}}, alice, bob, carol)
	return alice, bob, carol
}

// formRoom connects each pair; all[0] founds room ops and invites the
// others (each connected to it), who see the invitation (who, and the
// members) and join by choice. It returns once every member sees them all.
func formRoom(t *testing.T, pairs [][2]*member, all ...*member) {
	t.Helper()
	for _, pair := range pairs {
		if err := pair[0].node.Connect(netip.MustParseAddrPort(pair[1].addr)); err != nil {
			t.Fatal(err)
		}
	}
	founder := all[0]
	if _, err := founder.rooms.Create("ops"); err != nil {
		t.Fatal(err)
	}
	for _, m := range all[1:] {
		eventually(t, founder.name+" sees "+m.name+" join", func() bool {
			return slices.ContainsFunc(founder.node.Peers(), func(p chat.PeerInfo) bool { return p.Name == m.name })
		})
		// If their room key is still on its way, the invitation waits for it.
		if err := founder.rooms.Invite("ops", m.name); err != nil && !errors.Is(err, chat.ErrInviteWaits) {
			t.Fatal(err)
		}
	}
	for _, m := range all[1:] {
		inv := await(t, m, func(chat.RoomInvite) bool { return true })
		if inv.RoomName != "ops" || inv.From != founder.name || !slices.Contains(inv.Members, founder.name) || !slices.Contains(inv.Members, "you") {
			t.Fatalf("%s was shown the invitation %+v; want ops, from %s, with %[3]s and you as members", m.name, inv, founder.name)
		}
		if got := m.rooms.List(); len(got) != 0 {
			t.Fatalf("%s is in %v before joining", m.name, got)
		}
		if err := m.rooms.Join("ops"); err != nil {
			t.Fatal(err)
		}
	}
	// Everyone speaks once everyone knows everyone is in: what a member
	// says under an older membership reaches a newcomer only as history.
	eventually(t, "every member sees them all", func() bool {
		for _, m := range all {
			if l := m.rooms.List(); len(l) != 1 || len(l[0].Members) != len(all) {
				return false
			}
		}
		return true
	})
}

// A founder creates a room and invites two people, who see the invitation
// (who, and the members) and join by choice; what each says reaches the
// others once, in the same order everywhere, and the sender sees ✓✓ 2/2.
func TestRoomAmongThree(t *testing.T) {
	alice, bob, carol := roomOfThree(t)
	all := []*member{alice, bob, carol}
	var said []string
	for i := range 3 {
		for _, m := range all {
			text := fmt.Sprintf("%s %d", m.name, i)
			if _, err := m.rooms.Say("ops", text); err != nil {
				t.Fatal(err)
			}
			said = append(said, text)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, m := range all {
				t.Logf("%s has %q; %+v", m.name, texts(t, m), m.rooms.Stats())
			}
		}
	})
	eventually(t, "everyone has all 9 messages", func() bool {
		for _, m := range all {
			if len(texts(t, m)) != len(said) {
				return false
			}
		}
		return true
	})
	want := texts(t, alice)
	for _, m := range all[1:] {
		if got := texts(t, m); !slices.Equal(got, want) {
			t.Fatalf("%s has %q, alice %q: not the same order", m.name, got, want)
		}
	}
	slices.Sort(said)
	slices.Sort(want)
	if !slices.Equal(said, want) {
		t.Fatalf("the room has %q, want what was said: %q", want, said)
	}
	// Each received message is shown once; alice sees ✓✓ 2/2.
	for _, m := range all {
		for len(m.shown) < 6 {
			e := await(t, m, func(chat.RoomMessage) bool { return true })
			if m.shown[e.Text]++; m.shown[e.Text] > 1 || e.From == m.name || e.RoomName != "ops" {
				t.Fatalf("%s was shown %q from %s in %s again, or its own", m.name, e.Text, e.From, e.RoomName)
			}
		}
	}
	d := await(t, alice, func(d chat.RoomDelivery) bool { return d.K == d.N })
	if d.N != 2 || d.RoomName != "ops" {
		t.Fatalf("alice's delivery %+v, want ✓✓ 2/2 in ops", d)
	}
}

func texts(t *testing.T, m *member) []string {
	t.Helper()
	h, err := m.rooms.History("ops")
	if err != nil {
		t.Fatalf("%s: %v", m.name, err)
	}
	var out []string
	for _, msg := range h {
		out = append(out, msg.Text)
	}
	return out
}

// Bob leaves: the others are told he is no longer a member, and he is shown
// nothing more of the room. Alice removes carol, who is told so and gets
// nothing said after. Invited back, bob joins again and gets what is said
// from then on. A member who is not the founder cannot remove anyone.
func TestLeaveRemoveAndComeBack(t *testing.T) {
	alice, bob, carol := roomOfThree(t)
	if err := bob.rooms.Remove("ops", "carol"); err == nil {
		t.Fatal("bob, not the founder, removed carol")
	}
	if err := alice.rooms.Leave("ops"); err == nil {
		t.Fatal("the founder left her own room")
	}
	if err := bob.rooms.Leave("ops"); err != nil {
		t.Fatal(err)
	}
	if got := bob.rooms.List(); len(got) != 0 {
		t.Fatalf("bob still lists %v after leaving", got)
	}
	news := func(m *member) chat.MembersChanged {
		return await(t, m, func(e chat.MembersChanged) bool { return slices.Contains(e.Gone, "bob") })
	}
	for _, m := range []*member{alice, carol} {
		if e := news(m); slices.Contains(e.Members, "bob") || len(e.Members) != 2 {
			t.Fatalf("%s was told %+v, want bob gone and two members", m.name, e)
		}
	}
	if err := alice.rooms.Remove("ops", "carol"); err != nil {
		t.Fatal(err)
	}
	if e := await(t, carol, func(e chat.MembersChanged) bool { return e.Removed }); e.RoomName != "ops" {
		t.Fatalf("carol was told %+v", e)
	}
	if _, err := carol.rooms.Say("ops", "still here?"); err == nil {
		t.Fatal("carol spoke in the room she was removed from")
	}
	if _, err := alice.rooms.Say("ops", "just me now"); err != nil {
		t.Fatal(err)
	}
	if err := alice.rooms.Invite("ops", "bob"); err != nil {
		t.Fatalf("inviting bob back: %v", err)
	}
	if inv := await(t, bob, func(chat.RoomInvite) bool { return true }); inv.RoomName != "ops" {
		t.Fatalf("bob was invited to %q", inv.RoomName)
	}
	// The invitation shown may be news of his first one (sent again, or
	// with carol added) still on its way: he joins once the new one is in.
	eventually(t, "bob accepts the new invitation", func() bool { return bob.rooms.Join("ops") == nil })
	eventually(t, "bob is back among two", func() bool {
		l := bob.rooms.List()
		return len(l) == 1 && len(l[0].Members) == 2
	})
	if _, err := alice.rooms.Say("ops", "welcome back"); err != nil {
		t.Fatal(err)
	}
	if e := await(t, bob, func(e chat.RoomMessage) bool { return !e.Own }); e.Text != "welcome back" {
		t.Fatalf("bob, back, was shown %q first; want the welcome, not what was said while he was out", e.Text)
	}
	if _, err := bob.rooms.Say("ops", "glad to be back"); err != nil {
		t.Fatal(err)
	}
	await(t, alice, func(e chat.RoomMessage) bool { return e.Text == "glad to be back" })
	for _, text := range texts(t, carol) {
		if text == "just me now" || text == "welcome back" || text == "glad to be back" {
			t.Fatalf("carol, removed, holds %q", text)
		}
	}
}

// The founder sets the topic: every member is told who set it and what,
// and lists it with the room; a member who is not the founder cannot set
// it.
func TestTopicReachesEveryMember(t *testing.T) {
	alice, bob, carol := roomOfThree(t)
	if err := bob.rooms.SetTopic("ops", "bob's now"); err == nil {
		t.Fatal("bob, not the founder, set the topic")
	}
	if err := alice.rooms.SetTopic("ops", "deploy friday"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{alice, bob, carol} {
		e := await(t, m, func(chat.RoomTopic) bool { return true })
		if e.Topic != "deploy friday" || e.RoomName != "ops" || m != alice && e.From != "alice" {
			t.Fatalf("%s was told %+v", m.name, e)
		}
		if l := m.rooms.List(); len(l) != 1 || l[0].Topic != "deploy friday" {
			t.Fatalf("%s lists %+v", m.name, l)
		}
	}
}

// An invitation bob has not answered is shown once: its founder sending it
// again, or setting the room's topic, shows him nothing new; carol added
// before he says yes is shown as the invitation now listing her.
func TestPendingInvitationShownOnceAndOnChange(t *testing.T) {
	mn := udptest.NewMemNetwork()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	alice := startMember(t, mn, "alice", "10.0.0.1:7000", memberOptions{now: func() time.Time { return time.Unix(0, clock.Load()) }})
	bob := start(t, mn, "bob", "10.0.0.2:7000")
	carol := start(t, mn, "carol", "10.0.0.3:7000")
	for _, pair := range [][2]*member{{alice, bob}, {alice, carol}, {bob, carol}} {
		if err := pair[0].node.Connect(netip.MustParseAddrPort(pair[1].addr)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "bob knows carol by name", func() bool {
		return slices.ContainsFunc(bob.node.Peers(), func(p chat.PeerInfo) bool { return p.Name == "carol" })
	})
	if _, err := alice.rooms.Create("ops"); err != nil {
		t.Fatal(err)
	}
	invite := func(who string) {
		t.Helper()
		eventually(t, "alice sees "+who+" join", func() bool {
			return slices.ContainsFunc(alice.node.Peers(), func(p chat.PeerInfo) bool { return p.Name == who })
		})
		if err := alice.rooms.Invite("ops", who); err != nil && !errors.Is(err, chat.ErrInviteWaits) {
			t.Fatal(err)
		}
	}
	invite("bob")
	if inv := await(t, bob, func(chat.RoomInvite) bool { return true }); inv.Changed || len(inv.Members) != 2 {
		t.Fatalf("bob was shown %+v, want a new invitation from alice listing two", inv)
	}
	// Bob has not said yes: each status period alice sends the invitation
	// again.
	received := bob.rooms.Stats().Received
	clock.Add(int64(rooms.StatusPeriod))
	eventually(t, "alice's invitation comes again", func() bool { return bob.rooms.Stats().Received >= received+2 })
	if err := alice.rooms.SetTopic("ops", "deploy friday"); err != nil {
		t.Fatal(err)
	}
	invite("carol")
	inv := await(t, bob, func(chat.RoomInvite) bool { return true })
	if !inv.Changed || !slices.Equal(inv.Members, []string{"alice", "you", "carol"}) || inv.From != "alice" || inv.RoomName != "ops" {
		t.Fatalf("bob was shown %+v next; want alice's invitation to ops changed, now listing carol", inv)
	}
	if err := bob.rooms.Join("ops"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "bob is in ops", func() bool { return len(bob.rooms.List()) == 1 })
}
