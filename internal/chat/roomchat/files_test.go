package roomchat_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// bob sends a file to room ops of four. alice and carol are connected to
// him: carol declines, alice takes it; dave, a member not connected to bob
// when he sends, is offered it once they connect, and takes it. Each who
// took it has the very bytes; bob hears of each member alone.
func TestFileToARoom(t *testing.T) {
	mn := udptest.NewMemNetwork()
	takes := func() chat.FileConfig { return chat.FileConfig{Dir: t.TempDir(), AutoAccept: true} }
	alice := startWithFiles(t, mn, "alice", "10.0.0.1:7000", takes())
	bob := startWithFiles(t, mn, "bob", "10.0.0.2:7000", chat.FileConfig{Dir: t.TempDir()})
	carol := startWithFiles(t, mn, "carol", "10.0.0.3:7000", chat.FileConfig{Dir: t.TempDir()})
	dave := startWithFiles(t, mn, "dave", "10.0.0.4:7000", takes())
	formRoom(t, [][2]*member{{alice, bob}, {alice, carol}, {alice, dave}, {bob, carol}}, alice, bob, carol, dave)

	content := make([]byte, 300<<10) // five blocks
	rand.Read(content)
	path := filepath.Join(t.TempDir(), "photo.jpg")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	sent, err := bob.rooms.SendFile("ops", path)
	if err != nil {
		t.Fatal(err)
	}
	var offered []string
	for _, ft := range sent.Offered {
		offered = append(offered, ft.PeerName)
	}
	slices.Sort(offered)
	// bob knows dave only by key: they have not met.
	if !slices.Equal(offered, []string{"alice", "carol"}) || len(sent.Later) != 1 {
		t.Fatalf("bob's file went to %q, later to %q; want alice and carol now, dave later", offered, sent.Later)
	}

	offer := await(t, carol, func(e chat.FileOffer) bool { return true })
	if offer.Name != "photo.jpg" || offer.Size != uint64(len(content)) || offer.PeerName != "bob" {
		t.Fatalf("carol was offered %+v", offer)
	}
	if err := carol.node.DeclineFile(offer.ID); err != nil {
		t.Fatal(err)
	}
	if e := await(t, bob, func(e chat.FileFailed) bool { return true }); e.PeerName != "carol" || !e.Declined {
		t.Fatalf("bob was told %+v; want carol's decline", e)
	}
	verify := func(m *member) {
		t.Helper()
		done := await(t, m, func(e chat.FileDone) bool { return e.Incoming })
		if got, err := os.ReadFile(done.Path); err != nil || !bytes.Equal(got, content) {
			t.Fatalf("%s's %s: %d bytes (%v); want the %d sent", m.name, done.Path, len(got), err, len(content))
		}
		if e := await(t, bob, func(e chat.FileDone) bool { return true }); e.PeerName != m.name {
			t.Fatalf("bob was told %s has it; want %s", e.PeerName, m.name)
		}
	}
	verify(alice)

	if err := bob.node.Connect(netip.MustParseAddrPort(dave.addr)); err != nil {
		t.Fatal(err)
	}
	verify(dave)
}

// A member removed from the room while its offer waits for an answer is
// told the transfer stopped, and is offered nothing more.
func TestRemovedMemberGetsNoMore(t *testing.T) {
	mn := udptest.NewMemNetwork()
	alice := startWithFiles(t, mn, "alice", "10.0.0.1:7000", chat.FileConfig{Dir: t.TempDir()})
	bob := startWithFiles(t, mn, "bob", "10.0.0.2:7000", chat.FileConfig{Dir: t.TempDir()})
	carol := startWithFiles(t, mn, "carol", "10.0.0.3:7000", chat.FileConfig{Dir: t.TempDir()})
	formRoom(t, [][2]*member{{alice, bob}, {alice, carol}, {bob, carol}}, alice, bob, carol)
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("for members only"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.rooms.SendFile("ops", path); err != nil {
		t.Fatal(err)
	}
	offer := await(t, carol, func(chat.FileOffer) bool { return true })
	if err := alice.rooms.Remove("ops", "carol"); err != nil {
		t.Fatal(err)
	}
	if e := await(t, carol, func(e chat.FileFailed) bool { return true }); e.ID != offer.ID {
		t.Fatalf("carol was told %+v; want the end of %s", e, offer.ID)
	}
	more := filepath.Join(t.TempDir(), "more.txt")
	if err := os.WriteFile(more, []byte("for members only, again"), 0o600); err != nil {
		t.Fatal(err)
	}
	sent, err := alice.rooms.SendFile("ops", more)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent.Offered) != 1 || sent.Offered[0].PeerName != "bob" || len(sent.Later) != 0 {
		t.Fatalf("alice's second file went to %+v, later to %q; want bob alone", sent.Offered, sent.Later)
	}
	// bob has both offers; carol nothing more.
	await(t, bob, func(e chat.FileOffer) bool { return e.Name == "notes.txt" })
	if err := bob.node.DeclineFile(await(t, bob, func(e chat.FileOffer) bool { return e.Name == "more.txt" }).ID); err != nil {
		t.Fatal(err)
	}
	await(t, alice, func(e chat.FileFailed) bool { return e.PeerName == "bob" && e.Name == "more.txt" })
	for _, ev := range carol.backlog {
		if o, ok := ev.(chat.FileOffer); ok {
			t.Fatalf("carol, removed, was offered %+v", o)
		}
	}
}

// The room hears of a file in a note: bob sees alice shared it. erin,
// who joins later while connected to alice, has the note as history,
// asks alice for the file (a want), and gets it.
func TestNewcomerWantsASharedFile(t *testing.T) {
	mn := udptest.NewMemNetwork()
	takes := func() chat.FileConfig { return chat.FileConfig{Dir: t.TempDir(), AutoAccept: true} }
	alice := startWithFiles(t, mn, "alice", "10.0.0.1:7000", chat.FileConfig{Dir: t.TempDir()})
	bob := startWithFiles(t, mn, "bob", "10.0.0.2:7000", takes())
	erin := startWithFiles(t, mn, "erin", "10.0.0.5:7000", takes())
	formRoom(t, [][2]*member{{alice, bob}}, alice, bob)
	content := []byte("the minutes of the meeting")
	path := filepath.Join(t.TempDir(), "minutes.txt")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.rooms.SendFile("ops", path); err != nil {
		t.Fatal(err)
	}
	note := await(t, bob, func(chat.RoomMessage) bool { return true })
	if note.From != "alice" || note.Text != "shared the file minutes.txt (26 B)" {
		t.Fatalf("bob was shown %q from %s; want alice's note of minutes.txt", note.Text, note.From)
	}
	await(t, bob, func(e chat.FileDone) bool { return e.Incoming })

	if err := erin.node.Connect(netip.MustParseAddrPort(alice.addr)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice sees erin join", func() bool {
		return slices.ContainsFunc(alice.node.Peers(), func(p chat.PeerInfo) bool { return p.Name == "erin" })
	})
	if err := alice.rooms.Invite("ops", "erin"); err != nil && !errors.Is(err, chat.ErrInviteWaits) {
		t.Fatal(err)
	}
	await(t, erin, func(chat.RoomInvite) bool { return true })
	if err := erin.rooms.Join("ops"); err != nil {
		t.Fatal(err)
	}
	if h := await(t, erin, func(m chat.RoomMessage) bool { return m.History }); h.Text != note.Text {
		t.Fatalf("erin's history has %q; want the note %q", h.Text, note.Text)
	}
	done := await(t, erin, func(e chat.FileDone) bool { return e.Incoming })
	if got, err := os.ReadFile(done.Path); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("erin's %s: %q (%v); want %q", done.Path, got, err, content)
	}
}
