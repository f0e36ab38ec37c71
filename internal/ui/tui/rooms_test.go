package tui

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/wire"
)

// fakeRooms is a node's rooms kept in memory: what we say is stored at
// once, and the test plays the other members through post.
type fakeRooms struct {
	node  *chat.Node
	mu    sync.Mutex
	rooms []chat.RoomInfo
	seq   uint64
	said  []string                      // "#room text", as Say got them
	past  map[string][]chat.RoomMessage // History's answer, by room
}

func carryRooms(node *chat.Node, rooms ...string) *fakeRooms {
	f := &fakeRooms{node: node}
	for i, r := range rooms {
		f.rooms = append(f.rooms, chat.RoomInfo{ID: chat.RoomID{byte(i + 1)}, Name: r, Members: []string{"alice", "bob", "carol"}})
	}
	node.CarryRooms(f)
	return f
}

func (f *fakeRooms) Create(name string) (chat.RoomInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := chat.RoomInfo{ID: chat.RoomID{byte(len(f.rooms) + 1)}, Name: name, Members: []string{"alice"}}
	f.rooms = append(f.rooms, info)
	return info, nil
}

func (f *fakeRooms) Invite(room, person string) error { return nil }
func (f *fakeRooms) Join(room string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.ContainsFunc(f.rooms, func(i chat.RoomInfo) bool { return i.Name == room }) {
		return nil
	}
	return chat.ErrUnknownPeer // no invitation: any error will do
}

// Leave drops the room; Remove notes who was removed.
func (f *fakeRooms) Leave(room string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rooms = slices.DeleteFunc(f.rooms, func(i chat.RoomInfo) bool { return i.Name == room })
	return nil
}

func (f *fakeRooms) Remove(room, person string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.said = append(f.said, "#"+room+" removes "+person)
	return nil
}

// SetTopic sets the topic and tells the UI, as the real rooms do.
func (f *fakeRooms) SetTopic(room, topic string) error {
	f.mu.Lock()
	for i := range f.rooms {
		if f.rooms[i].Name == room {
			f.rooms[i].Topic = topic
		}
	}
	f.mu.Unlock()
	f.node.Post(chat.RoomTopic{RoomName: room, From: "alice", Topic: topic})
	return nil
}

func (f *fakeRooms) Say(room, text string) (chat.RoomMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	f.said = append(f.said, "#"+room+" "+text)
	return chat.RoomMessage{RoomName: room, ID: chat.RoomMsgID{Seq: f.seq}, From: "alice", Text: text, Own: true, At: time.Now()}, nil
}

func (f *fakeRooms) List() []chat.RoomInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rooms)
}

func (f *fakeRooms) History(room string) ([]chat.RoomMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.past[room]), nil
}
func (f *fakeRooms) Missing(string, chat.RoomMsgID) ([]string, error) {
	return []string{"carol"}, nil
}

// SendFile notes the file as "file #room path"; bob gets it later.
func (f *fakeRooms) SendFile(room, path string) (chat.RoomFileOffer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.said = append(f.said, "file #"+room+" "+path)
	return chat.RoomFileOffer{RoomName: room, Later: []string{"bob"}}, nil
}
func (f *fakeRooms) RoomPayload([32]byte, []byte) {}
func (f *fakeRooms) PersonUp([32]byte)            {}
func (f *fakeRooms) PersonDown([32]byte)          {}

// post plays a member saying text in room.
func (f *fakeRooms) post(room, from, text string) {
	f.mu.Lock()
	f.seq++
	id := chat.RoomMsgID{Sender: [32]byte{1}, Seq: f.seq}
	f.mu.Unlock()
	f.node.Post(chat.RoomMessage{RoomName: room, ID: id, From: from, Text: text, At: time.Now()})
}

// waitBells processes messages until the model has rung the bell n times.
func (hs *harness) waitBells(n int) {
	hs.t.Helper()
	hs.waitUntil(fmt.Sprintf("%d bells", n), func(string) bool { return bells(hs) >= n })
	if got := bells(hs); got != n {
		hs.t.Errorf("the bell rang %d times, want %d", got, n)
	}
}

func bells(hs *harness) int {
	n := 0
	for _, r := range hs.raw {
		n += strings.Count(r, "\a")
	}
	return n
}

// /send in a room offers the file to the room, not to the peer there is,
// and the room's conversation says so.
func TestSendFileToTheRoomShown(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	rooms := carryRooms(node, "ops")
	hs := newHarness(t, node, 140, 30)
	join(t, link, bob, "bob")
	hs.waitFor("bob joined")
	hs.enter("/room ops")
	hs.waitFor("▸2 #ops")
	hs.enter("/send /tmp/photo.jpg")
	hs.waitFor("offered photo.jpg to #ops; bob when they connect")
	rooms.mu.Lock()
	said := slices.Clone(rooms.said)
	rooms.mu.Unlock()
	if !slices.Equal(said, []string{"file #ops /tmp/photo.jpg"}) {
		t.Errorf("the rooms were asked %q, want the file sent to #ops", said)
	}
}

// Room commands in the TUI: /room opens a room as the conversation shown,
// a line goes to it with ✓ and then ✓✓ k/n as members store it, /info says
// who still lacks it, and an invitation says how to join.
func TestRoomCommandsAndDelivery(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	rooms := carryRooms(node, "ops")
	hs := newHarness(t, node, 140, 30)
	join(t, link, bob, "bob")
	hs.waitFor("bob joined")
	hs.enter("/room ops")
	hs.waitFor("Conversations", "▸2 #ops")
	hs.enter("deploy at five")
	hs.waitFor("✓  alice: deploy at five")
	node.Post(chat.RoomDelivery{RoomName: "ops", ID: chat.RoomMsgID{Seq: 1}, K: 1, N: 2})
	hs.waitFor("✓✓ 1/2 alice: deploy at five", "Missing your last line")
	if !strings.Contains(hs.screen(), "│   carol") {
		t.Errorf("the panel does not list carol as missing the line:\n%s", hs.screen())
	}
	hs.enter("/info")
	hs.waitFor(`"deploy at five" is not yet with: carol (#ops: mesh)`)
	rooms.mu.Lock()
	said := slices.Clone(rooms.said)
	rooms.mu.Unlock()
	if !slices.Equal(said, []string{"#ops deploy at five"}) {
		t.Errorf("the rooms were told %q, want the line in #ops", said)
	}
	node.Post(chat.RoomInvite{RoomName: "dev", From: "carol", Members: []string{"carol", "alice"}})
	hs.waitFor("carol invites you to room #dev (members: carol, alice); /join dev to join")
	hs.enter("/me waves")
	hs.waitFor("rooms have no /me yet (nothing sent)")
	hs.enter("/part")
	hs.waitFor("▸1 direct chat")
	hs.waitGone("deploy at five")
	if sent := chatsSent(t, link); len(sent) != 0 {
		t.Errorf("what was said in a room went to the peers as well: %v", sent)
	}
}

// Each conversation counts what arrives while another is shown, marks a
// mention of our name, and rings the bell for a mention or a direct
// message; switching (Ctrl+N/P, Alt+N) shows its own transcript with
// "— new —" where the user left off.
func TestConversationsUnreadMentionBell(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	rooms := carryRooms(node, "ops", "dev")
	hs := newHarness(t, node, 100, 30)
	join(t, link, bob, "bob")
	hs.waitFor("bob joined")
	hs.enter("/room ops")
	hs.waitFor("▸2 #ops")
	rooms.post("ops", "bob", "first in ops")
	hs.waitFor("bob: first in ops")
	hs.enter("/room dev")
	hs.waitFor("▸3 #dev")

	rooms.post("ops", "carol", "the build is green")
	hs.waitFor("2 #ops (1)")
	if n := bells(hs); n != 0 {
		t.Errorf("%d bells for a message in another room that does not name us", n)
	}
	rooms.post("ops", "bob", "Alice, can you look?")
	hs.waitFor("2 #ops (2) @")
	hs.waitBells(1) // a mention in another room
	say(t, link, bob, wire.ChatText, "bob", "psst, direct")
	hs.waitFor("1 direct chat (1)")
	hs.waitBells(2) // a direct message while in a room
	rooms.post("dev", "bob", "alice here in dev")
	hs.waitFor("bob: alice here in dev")

	hs.press('p', tea.ModCtrl) // back to #ops
	hs.waitFor("▸2 #ops", "— new —", "carol: the build is green")
	if s := hs.screen(); strings.Contains(s, "(2)") || strings.Contains(s, "alice here in dev") {
		t.Errorf("#ops shown still counts unread, or shows #dev's messages:\n%s", s)
	}
	if s := hs.screen(); strings.Index(s, "first in ops") > strings.Index(s, "— new —") ||
		strings.Index(s, "— new —") > strings.Index(s, "the build is green") {
		t.Errorf("— new — is not between what was seen and what came since:\n%s", s)
	}
	hs.press('1', tea.ModAlt)
	hs.waitFor("▸1 direct chat", "bob: psst, direct")
	hs.waitGone("the build is green")
	hs.press('n', tea.ModCtrl)
	hs.waitFor("▸2 #ops")
	hs.waitGone("— new —") // seen: it went when we left
	if n := bells(hs); n != 2 {
		t.Errorf("the bell rang %d times; a mention in the room shown must not ring it", n)
	}
}

func TestMentions(t *testing.T) {
	for _, c := range []struct {
		text string
		want bool
	}{
		{"alice: look", true}, {"hi @Alice!", true}, {"ALICE", true},
		{"malice aforethought", false}, {"alices", false}, {"", false},
	} {
		if got := mentions(c.text, "alice"); got != c.want {
			t.Errorf("mentions(%q, alice) = %v, want %v", c.text, got, c.want)
		}
	}
}

// The rooms we are in are conversations from the start, each showing its
// recent history, dimmed, above "— earlier —", and a message that comes
// live is not shown again by the history.
func TestRoomsAndTheirHistoryAtStart(t *testing.T) {
	node, _ := fakeNode(t, chat.Config{})
	rooms := carryRooms(node, "ops")
	said := chat.RoomMessage{RoomName: "ops", ID: chat.RoomMsgID{Sender: [32]byte{2}, Seq: 1}, From: "bob", Text: "said last week", At: time.Now().Add(-7 * 24 * time.Hour)}
	mine := chat.RoomMessage{RoomName: "ops", ID: chat.RoomMsgID{Seq: 9}, From: "you", Text: "mine of old", Own: true, At: said.At}
	rooms.past = map[string][]chat.RoomMessage{"ops": {said, mine}}
	node.Post(said) // as a member's repair might hand it over again
	hs := newHarness(t, node, 100, 30)
	hs.waitFor("Conversations", "2 #ops")
	hs.press('2', tea.ModAlt)
	hs.waitFor("▸2 #ops", "bob: said last week", "alice: mine of old", "— earlier —")
	if n := strings.Count(hs.screen(), "said last week"); n != 1 {
		t.Errorf("the message shows %d times, want once:\n%s", n, hs.screen())
	}
}

// /leave closes the room's conversation and says the user left; /remove
// asks the rooms to remove the member; membership news names who came and
// went, and a removal by the founder is said where the user is.
func TestLeaveRemoveAndMembershipNews(t *testing.T) {
	node, _ := fakeNode(t, chat.Config{})
	rooms := carryRooms(node, "ops", "dev")
	hs := newHarness(t, node, 120, 30)
	hs.waitFor("Conversations", "2 #ops", "3 #dev")
	hs.enter("/room ops")
	hs.waitFor("▸2 #ops")
	hs.enter("/remove carol")
	node.Post(chat.MembersChanged{RoomName: "ops", Members: []string{"you", "bob"}, Gone: []string{"carol"}})
	hs.waitFor("#ops members: you, bob (carol no longer a member)")
	hs.waitUntil("the rooms asked to remove carol from #ops", func(string) bool {
		rooms.mu.Lock()
		defer rooms.mu.Unlock()
		return slices.Equal(rooms.said, []string{"#ops removes carol"})
	})
	hs.enter("/leave")
	hs.waitFor("▸1 direct chat", "you left #ops; only a new invitation brings you back")
	hs.waitFor(" 2 #dev")
	hs.waitGone("#ops members") // its conversation closed
	node.Post(chat.MembersChanged{RoomName: "dev", Removed: true})
	hs.waitFor("you were removed from #dev")
	if names := rooms.List(); len(names) != 1 || names[0].Name != "dev" {
		t.Errorf("after /leave the rooms list %v, want #dev alone", names)
	}
}

// /topic TEXT sets the room's topic: every member's UI says so in the
// room and shows it in the header beside the room's name; /topic alone
// says what it is. A room's topic shows from the start.
func TestTopicInHeader(t *testing.T) {
	node, _ := fakeNode(t, chat.Config{})
	rooms := carryRooms(node, "ops", "dev")
	rooms.rooms[1].Topic = "release train"
	hs := newHarness(t, node, 120, 30)
	hs.waitFor("Conversations", "3 #dev")
	hs.press('3', tea.ModAlt)
	hs.waitFor("#dev · release train")
	hs.press('2', tea.ModAlt)
	hs.waitFor("▸2 #ops")
	hs.enter("/topic")
	hs.waitFor("#ops has no topic; its founder sets one with /topic TEXT")
	hs.enter("/topic deploy friday")
	hs.waitFor("alice set the topic: deploy friday", "#ops · deploy friday")
	hs.enter("/topic")
	hs.waitFor("#ops topic: deploy friday (set by alice)")
}

// The bell's desktop notification takes the form the terminal shows: OSC
// 9 on iTerm2, WezTerm and kitty, OSC 777 (with a title; its fields are
// split at ";") on foot, Ghostty and rxvt-unicode, none on a terminal not
// known to show one; what it says has no control characters.
func TestNotificationForm(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"TERM=xterm-256color", "TERM_PROGRAM=iTerm.app"}, "\x1b]9;udpchat: bob in #ops\x07"},
		{[]string{"TERM=xterm-kitty"}, "\x1b]9;udpchat: bob in #ops\x07"},
		{[]string{"TERM=foot"}, "\x1b]777;notify;udpchat;bob in #ops\x07"},
		{[]string{"TERM=foot-extra"}, "\x1b]777;notify;udpchat;bob in #ops\x07"},
		{[]string{"TERM=xterm-ghostty", "TERM_PROGRAM=ghostty"}, "\x1b]777;notify;udpchat;bob in #ops\x07"},
		{[]string{"TERM=rxvt-unicode-256color"}, "\x1b]777;notify;udpchat;bob in #ops\x07"},
		{[]string{"TERM=xterm-256color"}, ""},
		{[]string{"TERM=linux"}, ""},
	} {
		if got := notification(c.env, "bob in #ops"); got != c.want {
			t.Errorf("%v: %q, want %q", c.env, got, c.want)
		}
	}
	if got := notification([]string{"TERM=foot"}, "a;b\x1b]0;x\x07"); strings.Count(got, ";") != 3 || strings.Count(got, "\x1b") != 1 {
		t.Errorf("a notification of what holds ; and escapes: %q", got)
	}
}
