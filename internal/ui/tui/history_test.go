package tui

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// openStore opens a store in a fresh dir, closed at the end of the test.
func openStore(t *testing.T) *store.MessageDB {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newMessageID() chat.MessageID {
	var id chat.MessageID
	rand.Read(id[:])
	return id
}

// earlier is a conversation of a previous run, stored as that run would
// have: what bob said, what alice said and where it got to.
type earlier struct {
	delivered, waiting, given chat.MessageID
}

func storeEarlier(t *testing.T, st *store.MessageDB, at time.Time) earlier {
	t.Helper()
	ctx := context.Background()
	e := earlier{newMessageID(), newMessageID(), newMessageID()}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	out := func(id chat.MessageID, to netip.AddrPort, kind wire.ChatKind, text string, at time.Time) {
		must(st.AddOutgoing(ctx, store.Message{ID: id, Peer: chat.PeerKey(to), Kind: int(kind), Name: "alice", Text: text, At: at}))
	}
	_, err := st.AddIncoming(ctx, store.Message{ID: newMessageID(), Peer: chat.PeerKey(bob), Kind: int(wire.ChatText), Name: "bob", Text: "hi alice", At: at})
	must(err)
	out(e.delivered, bob, wire.ChatText, "hello bob", at.Add(time.Second))
	must(st.MarkDelivered(ctx, chat.PeerKey(bob), e.delivered))
	// To both: carol has it, bob does not yet.
	out(e.waiting, bob, wire.ChatText, "still there?", at.Add(2*time.Second))
	out(e.waiting, carol, wire.ChatText, "still there?", at.Add(2*time.Second))
	must(st.MarkDelivered(ctx, chat.PeerKey(carol), e.waiting))
	out(e.given, bob, wire.ChatAction, "gives up", at.Add(3*time.Second))
	must(st.Cancel(ctx, chat.PeerKey(bob), e.given))
	return e
}

// Reopened, the UI shows the recent history above "— earlier —", dimmed,
// with the glyphs of our messages; what the node sends again from its
// outbox is shown once, and turns to delivered in place.
func TestHistoryShownAtStart(t *testing.T) {
	st := openStore(t)
	storeEarlier(t, st, time.Now().Add(-time.Hour))
	node, link := fakeNode(t, chat.Config{Store: st})
	hs := newHarness(t, node, 100, 40)
	hs.waitFor("— earlier —", "bob: hi alice", "✓✓ alice: hello bob", "alice: still there?", "* alice gives up",
		"Nobody here yet") // the welcome, compact, below
	s := hs.screen()
	if l := lineWith(s, "still there?"); !regexp.MustCompile(`✓ +alice: still there\?`).MatchString(l) || strings.Contains(l, "✓✓") {
		t.Errorf("the message waiting for bob reads %q, want ✓ (sent, not yet delivered)", l)
	}
	if l := lineWith(s, "gives up"); !strings.Contains(l, "⊘") {
		t.Errorf("the cancelled message reads %q, want ⊘", l)
	}
	order := []string{"hi alice", "hello bob", "still there?", "gives up", "— earlier —", "Nobody here yet"}
	last := -1
	for _, w := range order {
		i := strings.Index(s, w)
		if i < last {
			t.Fatalf("%q is out of order; the screen:\n%s", w, s)
		}
		last = i
	}
	if strings.Contains(s, banner[1]) {
		t.Errorf("the big banner pushes the history away:\n%s", s)
	}

	// The node sent the waiting message again at start (to bob only).
	var again []fakeChat
	hs.waitUntil("the outbox sent again", func(string) bool { again = chatsSent(t, link); return len(again) == 1 })
	if again[0].Text != "still there?" || again[0].Peer != bob {
		t.Fatalf("sent again: %+v", again)
	}
	hs.settle(50 * time.Millisecond)
	if n := strings.Count(hs.screen(), "still there?"); n != 1 {
		t.Errorf("the message sent again from the outbox shows %d times:\n%s", n, hs.screen())
	}
	join(t, link, bob, "bob")
	link.H.Delivered(bob, again[0].Ref)
	hs.waitFor("✓✓ alice: still there?")

	// The live conversation follows the line, not dimmed.
	say(t, link, bob, wire.ChatText, "bob", "back now")
	hs.waitFor("bob: back now")
	s = hs.screen()
	if strings.Index(s, "bob: back now") < strings.Index(s, "— earlier —") {
		t.Errorf("a live message is above the history line:\n%s", s)
	}
	if n := strings.Count(s, "still there?"); n != 1 {
		t.Errorf("still there? shows %d times:\n%s", n, s)
	}
	raw := hs.m.View().Content
	past := hs.m.st.past
	if !strings.Contains(raw, past.Render("hi alice")) || !strings.Contains(raw, past.Render("bob")) {
		t.Errorf("the history is not dimmed: %q", lineWith(raw, "hi alice"))
	}
	if strings.Contains(raw, past.Render("back now")) {
		t.Errorf("a live message is dimmed: %q", lineWith(raw, "back now"))
	}
}

// History from other days shows their dates, so that "09:14" is not read
// as this morning.
func TestHistoryOfOtherDaysHasDates(t *testing.T) {
	st := openStore(t)
	at := time.Date(2025, 11, 25, 9, 14, 0, 0, time.Local)
	storeEarlier(t, st, at)
	node, _ := fakeNode(t, chat.Config{Store: st})
	hs := newHarness(t, node, 100, 40)
	hs.waitFor("Nov 25 09:14", "bob: hi alice", "Nov 25 09:14", "— earlier —")
}

// No store, or an empty one: no history, no line.
func TestNoHistoryNoLine(t *testing.T) {
	for _, cfg := range []chat.Config{{}, {Store: openStore(t)}} {
		node, link := fakeNode(t, cfg)
		hs := newHarness(t, node, 80, 24)
		join(t, link, bob, "bob")
		say(t, link, bob, wire.ChatText, "bob", "hi")
		hs.waitFor("bob: hi")
		hs.settle(50 * time.Millisecond)
		if s := hs.screen(); strings.Contains(s, "earlier") {
			t.Errorf("store %v: a history line with no history:\n%s", cfg.Store != nil, s)
		}
	}
}

// The history may be read before or after events about the same messages:
// either way each shows once, and the glyphs are right.
func TestHistoryAndLiveEventsMeetOnce(t *testing.T) {
	node, _ := fakeNode(t, chat.Config{})
	t.Cleanup(func() { node.Close(context.Background()) })
	m := newModel(context.Background(), node, Options{Timeout: time.Second}, false)
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 40})
	old := m.transcript.started.Add(-time.Minute)
	row := func(id chat.MessageID, dir store.Direction, peer netip.AddrPort, name, text string, state store.State, at time.Time) chat.HistoryMessage {
		return chat.StoredMessage(store.Message{ID: id, Peer: chat.PeerKey(peer), Direction: dir, Kind: int(wire.ChatText), Name: name, Text: text, At: at, State: state})
	}
	early, late, requeued, ours := newMessageID(), newMessageID(), newMessageID(), newMessageID()
	// Events before the history: a message bob sent just before the UI
	// started, one it sent after, and the Sent and Delivered of a message
	// the node sent again from its outbox.
	m.Update(eventsMsg{
		chat.Message{ID: early, From: bob, Name: "bob", Text: "early", At: old},
		chat.Sent{ID: requeued, To: bob, Text: "requeued", At: old},
		chat.Delivered{ID: requeued, To: bob},
	})
	// One of ours, sent this run: Send has not returned yet.
	m.input.SetValue("ours")
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	m.Update(historyMsg{msgs: []chat.HistoryMessage{
		row(newMessageID(), store.Incoming, bob, "bob", "older", store.Received, old.Add(-time.Second)),
		row(early, store.Incoming, bob, "bob", "early", store.Received, old),
		row(requeued, store.Outgoing, bob, "alice", "requeued", store.Pending, old),
		row(ours, store.Outgoing, bob, "alice", "ours", store.Pending, time.Now()),
		row(late, store.Incoming, bob, "bob", "late", store.Received, time.Now()),
	}})
	// Events after it: late, stored since the start, arrives live.
	m.Update(eventsMsg{chat.Message{ID: late, From: bob, Name: "bob", Text: "late", At: time.Now()}})
	s := ansi.Strip(m.View().Content)
	for _, w := range []string{"bob: older", "bob: early", "alice: requeued", "alice: ours", "bob: late"} {
		if n := strings.Count(s, w); n != 1 {
			t.Errorf("%q shows %d times:\n%s", w, n, s)
		}
	}
	if !strings.Contains(s, "✓✓ alice: requeued") {
		t.Errorf("the message delivered before the history came is not ✓✓:\n%s", s)
	}
	line := strings.Index(s, "— earlier —")
	if line < 0 || strings.Index(s, "bob: older") > line || strings.Index(s, "alice: requeued") > line ||
		strings.Index(s, "alice: ours") < line || strings.Index(s, "bob: late") < line {
		t.Errorf("history and live are on the wrong sides of the line:\n%s", s)
	}

	// History read first: a message it showed that then arrives as an
	// event (it was on its way to the UI) is not shown again.
	node2, _ := fakeNode(t, chat.Config{})
	t.Cleanup(func() { node2.Close(context.Background()) })
	m = newModel(context.Background(), node2, Options{Timeout: time.Second}, false)
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 40})
	inFlight := newMessageID()
	m.Update(historyMsg{msgs: []chat.HistoryMessage{row(inFlight, store.Incoming, bob, "bob", "in flight", store.Received, m.transcript.started.Add(-time.Millisecond))}})
	m.Update(eventsMsg{chat.Message{ID: inFlight, From: bob, Name: "bob", Text: "in flight", At: time.Now()}})
	if s := ansi.Strip(m.View().Content); strings.Count(s, "bob: in flight") != 1 {
		t.Errorf("a message in the history and then live shows other than once:\n%s", s)
	}
}

// /cancel gives up on the newest message waiting, /cancel ID on that one
// (Tab completes the ID); the glyph turns to ⊘.
func TestCancel(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 120, 40)
	join(t, link, bob, "bob")
	hs.waitFor("bob joined")
	hs.enter("/cancel")
	hs.waitFor("nothing to cancel: none of your messages is waiting for delivery")
	for _, text := range []string{"first", "second", "third"} {
		hs.enter(text)
		hs.waitUntil(text+" sent", func(s string) bool { return regexp.MustCompile(`✓ +alice: ` + text).MatchString(s) })
	}
	chats := chatsSent(t, link)
	link.H.Delivered(bob, chats[0].Ref) // first is delivered: nothing to cancel there
	hs.waitFor("✓✓ alice: first")

	hs.enter("/cancel")
	third := chat.MessageID(chats[2].ID)
	hs.waitFor(`cancelled `+third.String()[:8]+` "third" to bob (10.0.0.2:7475): it will not be sent again`,
		"(1 message still waiting: /cancel again for the newest)", "⊘  alice: third")
	if l := lineWith(hs.screen(), "alice: second"); !regexp.MustCompile(`✓ +alice: second`).MatchString(l) || strings.Contains(l, "✓✓") {
		t.Errorf("second reads %q after /cancel, want it still waiting", l)
	}

	// Tab after /cancel completes the one ID still waiting.
	second := chat.MessageID(chats[1].ID).String()[:8]
	hs.typeText("/cancel ")
	hs.press(tea.KeyTab)
	if got := hs.m.input.Value(); got != "/cancel "+second+" " {
		t.Errorf("/cancel + Tab = %q, want /cancel %s", got, second)
	}
	hs.waitFor(`Enter cancels ` + second + ` "second"`)
	hs.press(tea.KeyEnter)
	hs.waitFor("⊘  alice: second", `cancelled `+second+` "second" to bob`)
	if u := node.Undelivered(); len(u) != 0 {
		t.Errorf("undelivered after cancelling both: %+v", u)
	}
	hs.enter("/cancel 0123abcd")
	hs.waitFor("nothing to cancel")

	// A message cancelled and then delivered after all (it was on its
	// way) turns to ✓✓.
	link.H.Delivered(bob, chats[2].Ref)
	hs.waitFor("✓✓ alice: third")
}

func TestCancelCompletionListsWhatWaits(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 160, 40)
	join(t, link, bob, "bob")
	hs.waitFor("bob joined")
	hs.enter("one")
	hs.enter("/me two")
	hs.waitUntil("both sent", func(s string) bool { return strings.Count(s, "✓ ") == 2 })
	chats := chatsSent(t, link)
	one, two := chat.MessageID(chats[0].ID).String()[:8], chat.MessageID(chats[1].ID).String()[:8]
	hs.typeText("/canc")
	hs.press(tea.KeyTab)
	if got := hs.m.input.Value(); got != "/cancel " {
		t.Fatalf("/canc + Tab = %q", got)
	}
	hs.press(tea.KeyTab)
	hs.waitFor(two + ` "* two"  ` + one + ` "one"`) // newest first
	hs.m.input.Reset()
	hs.enter("/cancel xyz")
	hs.waitFor(`/cancel xyz: want the start of a message ID; waiting: ` + two + ` "* two", ` + one + ` "one"`)
	hs.enter("/cancel " + one[:6])
	hs.waitFor("⊘  alice: one")
	if l := lineWith(hs.screen(), "alice two"); strings.Contains(l, "⊘") {
		t.Errorf("/cancel %s cancelled two too: %q", one[:6], l)
	}
}

func TestCancelInPlainMode(t *testing.T) {
	node, _ := fakeNode(t, chat.Config{Plain: true})
	hs := newHarness(t, node, 100, 24)
	hs.enter("/cancel")
	hs.waitFor("nothing to cancel: plain mode acknowledges nothing")
}

// At the end, what the outbox keeps is said with how to see or cancel it.
func TestRunSaysTheOutboxKeepsWhatWasNotDelivered(t *testing.T) {
	node, link := fakeNode(t, chat.Config{Store: openStore(t)})
	join(t, link, bob, "bob")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startRun(t, ctx, node)
	s.keys.WriteString("into the void\r")
	waitSends(t, link, 1)
	cancel()
	if code := s.wait(t); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"udpchat: not delivered before leaving: 1 message to bob (10.0.0.2:7475)\n",
		"udpchat: it stays in the outbox and goes when udpchat next starts (on the same data dir); 'udpchat history --pending' lists it, 'udpchat history --cancel ID' gives it up\n",
	} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("stderr %q, want %q", s.stderr, want)
		}
	}
}

// A message that reached the disk but no screen (udpchat was killed before
// it showed it) is shown at the next start, in the history, even when more
// than the recent messages came after it; and only once.
func TestUnshownMessageShownAtStartOnce(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	at := time.Now().Add(-2 * time.Hour)
	if _, err := st.AddIncoming(ctx, store.Message{ID: newMessageID(), Peer: chat.PeerKey(bob), Kind: int(wire.ChatText), Name: "bob", Text: "never seen", At: at}); err != nil {
		t.Fatal(err)
	}
	for i := range recentMessages + 10 {
		m := store.Message{ID: newMessageID(), Peer: chat.PeerKey(bob), Kind: int(wire.ChatText), Name: "bob", Text: fmt.Sprintf("seen %d", i), At: at.Add(time.Duration(i+1) * time.Second)}
		if _, err := st.AddIncoming(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := st.MarkShown(ctx, []store.Key{{Peer: chat.PeerKey(bob), ID: m.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	node, _ := fakeNode(t, chat.Config{Store: st})
	hs := newHarness(t, node, 100, 120)
	hs.waitFor("bob: never seen", fmt.Sprintf("bob: seen %d", recentMessages+9), "— earlier —")
	s := hs.screen()
	if n := strings.Count(s, "never seen"); n != 1 {
		t.Errorf("the unseen message shows %d times:\n%s", n, s)
	}
	if strings.Index(s, "never seen") > strings.Index(s, "— earlier —") {
		t.Errorf("the unseen message is shown below the history line, as if it came now:\n%s", s)
	}
}
