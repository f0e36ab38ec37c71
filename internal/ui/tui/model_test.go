package tui

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/udp/udptest"
	"github.com/udpchat/udpchat/internal/wire"
)

func TestWelcomeUntilSomeoneJoins(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 30)
	hs.waitFor(banner[1], "You are alice, listening on 10.0.0.1:7475", "Nobody is here yet",
		"udpchat --peer 10.0.0.1:7475", "/connect HOST:PORT", "NOT encrypted")
	if s := hs.screen(); strings.Contains(s, "--plain") {
		t.Errorf("the welcome of a reliable node asks for --plain:\n%s", s)
	}

	join(t, link, bob, "bob")
	hs.waitFor("bob joined (10.0.0.2:7475)", "Peers (1)", "online")
	hs.waitGone("Nobody is here yet")
}

// The command the welcome gives a friend works where the friend is: from
// another machine it names a LAN address (never 127.0.0.1); on this one it
// gives the friend a port and a data dir of their own, as two udpchats
// cannot share either.
func TestWelcomeTellsAFriendWhatWorks(t *testing.T) {
	for _, tc := range []struct {
		listen     string
		want, gone []string
	}{
		{"127.0.0.1:9001",
			[]string{"udpchat -p 127.0.0.1:9001 -l 127.0.0.1:0 --data-dir /tmp/friend",
				"from another machine, run udpchat with --listen on a LAN address"},
			[]string{"udpchat --peer 127.0.0.1:9001"}},
		{"10.0.0.1:7475",
			[]string{"udpchat --peer 10.0.0.1:7475", "on this machine, add -l :0 --data-dir DIR"},
			[]string{"udpchat --peer 127.0.0.1"}},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			node, link := fakeNode(t, chat.Config{})
			link.Addr = netip.MustParseAddrPort(tc.listen)
			hs := newHarness(t, node, 100, 30)
			hs.waitFor(tc.want...)
			for _, g := range tc.gone {
				if s := hs.screen(); strings.Contains(s, g) {
					t.Errorf("the welcome says %q:\n%s", g, s)
				}
			}
		})
	}
}

func TestWelcomeIsCompactWhenSmall(t *testing.T) {
	node, _ := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 40, 10)
	hs.waitFor("udpchat", "You are alice")
	if s := hs.screen(); strings.Contains(s, banner[1]) {
		t.Errorf("the banner is drawn at 40x10:\n%s", s)
	}
}

func TestHeaderSaysWhetherItIsEncrypted(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  chat.Config
		want []string
	}{
		{"plain", chat.Config{Plain: true}, []string{"PLAIN — not encrypted", "udpchat --plain --peer 10.0.0.1:7475"}},
		{"unencrypted", chat.Config{}, []string{"NOT encrypted"}},
		{"encrypted", chat.Config{Security: chat.Security{Encrypted: true, Fingerprint: "SHA256:abcdef0123456789"}},
			[]string{"encrypted", "key SHA256:abcdef0123456789", "Your key: SHA256:abcdef0123456789"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node, _ := fakeNode(t, tc.cfg)
			hs := newHarness(t, node, 100, 30)
			hs.waitFor(append([]string{"udpchat", "alice", "10.0.0.1:7475"}, tc.want...)...)
			header := lines(hs.screen())[0]
			if tc.name == "encrypted" && strings.Contains(header, "NOT") {
				t.Errorf("header %q", header)
			}
		})
	}
}

// The glyph of an own message changes in place: ○ sending, ✓ sent, ✓✓
// delivered.
func TestOwnMessageGlyphFollowsDelivery(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 24)
	join(t, link, bob, "bob")
	hs.waitFor("bob joined")

	hs.typeText("hello bob")
	hs.press(tea.KeyEnter)
	// Update shows the message at once, before the Cmd that sends it ran.
	if l := lineWith(hs.screen(), "alice: hello bob"); !regexp.MustCompile(`○ +alice: hello bob`).MatchString(l) {
		t.Errorf("right after Enter the line is %q, want it pending (○)", l)
	}
	hs.waitUntil("hello bob sent (✓)", func(s string) bool {
		return regexp.MustCompile(`✓ +alice: hello bob`).MatchString(lineWith(s, "hello bob")) &&
			!strings.Contains(lineWith(s, "hello bob"), "✓✓")
	})
	chats := chatsSent(t, link)
	if len(chats) != 1 || chats[0].Peer != bob || chats[0].Text != "hello bob" {
		t.Fatalf("sent %+v, want hello bob to bob", chats)
	}
	link.H.Delivered(bob, chats[0].Ref)
	hs.waitFor("✓✓ alice: hello bob")
}

// Lines typed faster than the node takes them reach it, and so the peer,
// in the order typed (Bubble Tea runs Cmds concurrently), and leaving
// waits for them: none is lost by Ctrl+C right after Enter.
func TestSendsKeepTheOrderTyped(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 24)
	join(t, link, bob, "bob")
	hs.waitFor("bob joined")
	const n = 50
	for i := range n {
		if i%2 == 0 {
			hs.enter(fmt.Sprintf("line %d", i))
		} else {
			hs.enter(fmt.Sprintf("/me line %d", i))
		}
	}
	hs.press('c', tea.ModCtrl)
	hs.waitQuit()
	chats := chatsSent(t, link)
	if len(chats) != n {
		t.Fatalf("the link got %d messages, want %d", len(chats), n)
	}
	for i, c := range chats {
		if want := fmt.Sprintf("line %d", i); c.Text != want {
			t.Fatalf("message %d is %q, want %q: sends overtook each other", i, c.Text, want)
		}
	}
}

func TestFailedSendIsShownNotFatal(t *testing.T) {
	node, _ := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 24)
	hs.enter("anyone there?")
	hs.waitFor("✗  alice: anyone there?", "no one to send to yet")
	hs.enter("/bogus")
	hs.waitFor("unknown command /bogus (nothing sent)")
	hs.enter("/me")
	hs.waitFor("/me needs an action")
}

func TestPeerGoesUnreachableAndComesBack(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 100, 24)
	join(t, link, bob, "bob")
	hs.waitFor("bob joined", "● bob", "online")
	// The peers panel shows the RTT the transport measured (a refresh as
	// refreshCmd makes it), while the peer is online: a peer that stopped
	// answering or left still has one, but it is stale.
	measured := func() {
		hs.waitUntil("the peers refreshed", func(string) bool { return !hs.m.panel.refreshing })
		hs.update(peersMsg{peers: node.Peers(), rtts: map[netip.AddrPort]time.Duration{bob: 1500 * time.Microsecond}})
	}
	measured()
	hs.waitFor("online 1.5ms")

	link.H.PeerUnreachable(bob)
	hs.waitFor("bob is unreachable; messages to bob will wait", "○ bob", "unreachable")
	measured()
	hs.waitGone("1.5ms")
	link.H.PeerReachable(bob)
	hs.waitFor("bob is back", "● bob")
	measured()
	hs.waitFor("online 1.5ms")
	link.H.PeerClosed(bob)
	hs.waitFor("bob left", "· bob", "left")
	measured()
	hs.waitGone("1.5ms")
}

func TestMessagesFromPeers(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 24)
	join(t, link, bob, "bob")
	say(t, link, bob, wire.ChatText, "bob", "first line\nsecond line\n\tindented")
	say(t, link, bob, wire.ChatAction, "bob", "waves")
	say(t, link, bob, wire.ChatText, "bob", "evil \x1b[2J\x1b]0;title\x07 text")
	say(t, link, bob, wire.ChatText, "bob", `typed \x1b[2J, C:\dir`)
	say(t, link, bob, wire.ChatDirect, "bob", "for your eyes only")
	hs.waitFor("bob: first line", "* bob waves", `evil \x1b[2J\x1b]0;title\x07 text`,
		`typed \\x1b[2J, C:\\dir`,       // what the peer typed reads apart from an escape
		"bob → you: for your eyes only") // a /msg to us alone says so
	s := hs.screen()
	// A multi-line message stays whole: its lines follow, under the text.
	first := lineWith(s, "bob: first line")
	col := strings.Index(first, "first line")
	all := lines(s)
	for i, l := range all {
		if l == first {
			if !strings.HasPrefix(all[i+1], strings.Repeat(" ", col)+"second line") ||
				!strings.HasPrefix(all[i+2], strings.Repeat(" ", col)+"    indented") {
				t.Errorf("multi-line message laid out as:\n%s\n%s\n%s", l, all[i+1], all[i+2])
			}
		}
	}
	if strings.Contains(hs.m.View().Content, "\x1b]0;") || strings.Contains(hs.m.View().Content, "\x1b[2J") {
		t.Error("a peer's escape sequence reached the terminal")
	}
}

// At every size, down to 40x10, the screen is exactly the terminal's
// height and no line is wider than it: nothing wraps and garbles.
func TestResizeNeverGarbles(t *testing.T) {
	node, link := fakeNode(t, chat.Config{Security: chat.Security{Encrypted: true, Fingerprint: strings.Repeat("ab", 32)}})
	hs := newHarness(t, node, 80, 24)
	join(t, link, bob, "bob")
	join(t, link, carol, "a-rather-long-name-for-a-peer-in-a-narrow-window")
	for i := range 30 {
		say(t, link, bob, wire.ChatText, "bob", fmt.Sprintf("message %d: %s", i, strings.Repeat("word ", i)))
	}
	say(t, link, bob, wire.ChatText, "bob", "wide 🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊🦊 chars and averyveryveryveryveryveryverylongwordwithoutanyspaces")
	hs.waitFor("chars and", "Peers (2)")
	hs.enter("/help")
	hs.waitFor("/msg PEER TEXT")
	for _, size := range [][2]int{{40, 10}, {200, 50}, {41, 11}, {72, 20}, {71, 20}, {100, 30}, {40, 10}, {30, 6}} {
		w, h := size[0], size[1]
		hs.update(tea.WindowSizeMsg{Width: w, Height: h})
		s := hs.screen()
		ls := lines(s)
		if len(ls) != h {
			t.Errorf("%dx%d: %d lines", w, h, len(ls))
		}
		for _, l := range ls {
			if ansi.StringWidth(l) > w {
				t.Errorf("%dx%d: line %q is %d wide", w, h, l, ansi.StringWidth(l))
			}
		}
		if !strings.Contains(ls[0], "encrypted") {
			t.Errorf("%dx%d: the header %q lost the encryption state", w, h, ls[0])
		}
		if w >= 40 && !strings.Contains(ls[len(ls)-1], "> ") {
			t.Errorf("%dx%d: no input line at the bottom: %q", w, h, ls[len(ls)-1])
		}
		if hasPanel := strings.Contains(s, "Peers (2)"); hasPanel != (w >= narrowPanel) {
			t.Errorf("%dx%d: peers panel shown: %v", w, h, hasPanel)
		}
	}
	// Back at 40x10 the newest message is in view.
	hs.update(tea.WindowSizeMsg{Width: 40, Height: 10})
	hs.press(tea.KeyEscape)
	say(t, link, bob, wire.ChatText, "bob", "the newest")
	hs.waitFor("bob: the newest")
}

func TestScrollingAndNewMessagesBelow(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 12)
	join(t, link, bob, "bob")
	for i := range 40 {
		say(t, link, bob, wire.ChatText, "bob", fmt.Sprintf("line %d", i))
	}
	hs.waitFor("bob: line 39")
	hs.press(tea.KeyPgUp)
	hs.press(tea.KeyPgUp)
	if s := hs.screen(); strings.Contains(s, "bob: line 39") || !strings.Contains(s, "scrolled") {
		t.Fatalf("after PgUp the screen shows:\n%s", s)
	}
	say(t, link, bob, wire.ChatText, "bob", "while you were reading")
	say(t, link, bob, wire.ChatText, "bob", "and another")
	hs.waitFor("2 new messages below")
	if s := hs.screen(); strings.Contains(s, "while you were reading") {
		t.Errorf("the view jumped while scrolled up:\n%s", s)
	}
	hs.update(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	hs.press(tea.KeyPgDown)
	hs.press(tea.KeyPgDown)
	hs.press(tea.KeyPgDown)
	hs.waitFor("bob: and another")
	hs.waitGone("new messages below")
	hs.update(tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	hs.waitFor("scrolled")
	hs.press(tea.KeyEscape)
	hs.waitGone("scrolled")
}

func TestMultiLinePasteIsOneMessage(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 24)
	join(t, link, bob, "bob")
	hs.update(tea.PasteMsg{Content: "one\r\ntwo\nthree"})
	hs.press(tea.KeyEnter)
	hs.waitFor("alice: one", "two", "three")
	hs.settle(50 * time.Millisecond)
	chats := chatsSent(t, link)
	if len(chats) != 1 || chats[0].Text != "one\ntwo\nthree" {
		t.Fatalf("sent %+v, want one message of three lines", chats)
	}
	// Alt+Enter starts a new line instead of sending.
	hs.typeText("four")
	hs.press(tea.KeyEnter, tea.ModAlt)
	hs.typeText("five")
	hs.press(tea.KeyEnter)
	hs.waitFor("alice: four")
	hs.settle(50 * time.Millisecond)
	if chats := chatsSent(t, link); len(chats) != 2 || chats[1].Text != "four\nfive" {
		t.Fatalf("sent %+v, want four\\nfive as the second message", chats)
	}
}

func TestTooBigIsAnErrorNotACrash(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 24)
	join(t, link, bob, "bob")
	hs.update(tea.PasteMsg{Content: strings.Repeat("x", chat.MaxTextLen+1)})
	hs.waitFor("paste not added", "256.0 KiB")
	if v := hs.m.input.Value(); v != "" {
		t.Errorf("the input holds %d bytes after a refused paste", len(v))
	}
	hs.update(tea.PasteMsg{Content: strings.Repeat("y\n", maxInputLines)})
	hs.waitFor("paste not added: the message would have")
	hs.settle(50 * time.Millisecond)
	if chats := chatsSent(t, link); len(chats) != 0 {
		t.Errorf("sent %d messages, want none", len(chats))
	}
	// The largest message there can be goes through.
	hs.update(tea.PasteMsg{Content: strings.Repeat("z", chat.MaxTextLen)})
	hs.press(tea.KeyEnter)
	hs.waitUntil("the largest message sent", func(string) bool { return len(chatsSent(t, link)) == 1 })
	if chats := chatsSent(t, link); len(chats[0].Text) != chat.MaxTextLen {
		t.Errorf("the largest message was not sent whole")
	}
}

func TestHelpListsCommandsKeysAndGlyphs(t *testing.T) {
	node, _ := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 100, 50)
	hs.enter("/help")
	hs.waitFor("/connect PEER", "/nick NAME", "/me ACTION", "/msg PEER TEXT", "/peers", "/stats", "/clear", "/quit",
		"/cancel [ID]", "bye, exit", "Ctrl+C", "PgUp/PgDn", "Tab", "Alt+Enter", "✓✓ delivered", "⊘ cancelled",
		"/cancel gives up on one not yet delivered")
}

func TestCompletion(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 100, 24)
	join(t, link, bob, "bob")
	join(t, link, carol, "carol")
	hs.waitFor("carol joined")
	hs.settle(50 * time.Millisecond) // the peers refresh

	for _, tc := range []struct{ typed, want, status string }{
		{"/st", "/stats ", ""},
		{"/m", "/m", "/me  /msg"},
		{"/msg b", "/msg bob ", ""},
		{"/msg ", "/msg ", "bob  carol"},
		{"/zz", "/zz", "no completion"},
		{"hello", "hello", ""},
	} {
		hs.m.input.Reset()
		hs.typeText(tc.typed)
		hs.press(tea.KeyTab)
		if got := hs.m.input.Value(); got != tc.want {
			t.Errorf("%q + Tab = %q, want %q", tc.typed, got, tc.want)
		}
		if tc.status != "" && !strings.Contains(hs.screen(), tc.status) {
			t.Errorf("%q + Tab: the screen does not list %q:\n%s", tc.typed, tc.status, hs.screen())
		}
	}
}

func TestMsgGoesToOnePeer(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 100, 24)
	join(t, link, bob, "bob")
	join(t, link, carol, "carol")
	hs.waitFor("carol joined")
	hs.settle(50 * time.Millisecond)
	hs.enter("/msg Carol psst, carol")
	hs.waitFor("alice → carol: psst, carol")
	hs.enter("/msg dave hi")
	hs.waitFor(`no peer is called "dave"`)
	hs.enter("/msg 10.0.0.2:7475 by address")
	hs.waitFor("alice → bob: by address")
	hs.settle(50 * time.Millisecond)
	chats := chatsSent(t, link)
	if len(chats) != 2 || chats[0].Peer != carol || chats[0].Text != "psst, carol" || chats[1].Peer != bob {
		t.Fatalf("sent %+v, want one message to carol, then one to bob", chats)
	}
}

func TestHistory(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 24)
	join(t, link, bob, "bob")
	hs.enter("one")
	hs.enter("two")
	hs.typeText("draft")
	for _, step := range []struct {
		key  rune
		want string
	}{{tea.KeyUp, "two"}, {tea.KeyUp, "one"}, {tea.KeyUp, "one"}, {tea.KeyDown, "two"}, {tea.KeyDown, "draft"}} {
		hs.press(step.key)
		if got := hs.m.input.Value(); got != step.want {
			t.Fatalf("after %v the input is %q, want %q", step.key, got, step.want)
		}
	}
}

func TestNickConnectPeersClear(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 100, 30)
	join(t, link, bob, "bob")
	hs.enter("/nick")
	hs.waitFor("you are alice; /nick NAME changes it")
	hs.enter("/nick alicia")
	hs.waitFor("you are now known as alicia", "udpchat · alicia")
	hs.enter("/nick a:b")
	hs.waitFor("contains a colon")
	hs.enter("/connect 10.0.0.3:7475")
	hs.waitFor("connecting to 10.0.0.3:7475", "Peers (2)", "◌ 10.0.0.3:7475")
	hs.enter("/connect nowhere")
	hs.waitFor("/connect nowhere: want IP:PORT")
	hs.enter("/peers")
	hs.waitFor("bob 10.0.0.2:7475  online", "(no name yet) 10.0.0.3:7475  connecting")
	hs.enter("/stats")
	hs.waitFor("/stats: this link keeps no per-peer statistics")
	hs.enter("/clear")
	hs.waitGone("bob joined")
	hs.waitGone("you are now known")
}

func TestStatsOverTheTransport(t *testing.T) {
	mn := udptest.NewMemNetwork()
	alice := chattest.TransportNode(t, mn, "10.0.0.1:7475", "alice")
	bobNode := chattest.TransportNode(t, mn, "10.0.0.2:7475", "bob")
	go func() { // bob's UI: reads and drops
		for range bobNode.Events() {
		}
	}()
	t.Cleanup(func() { bobNode.Close(context.Background()) })
	alice.Connect(bobNode.LocalAddr())
	hs := newHarness(t, alice, 100, 30)
	hs.enter("hello over the transport")
	hs.waitFor("✓✓ alice: hello over the transport", "● bob")
	hs.enter("/stats")
	// The link's messages: alice's hello, features and text; bob's hello
	// and features.
	hs.waitFor("Link statistics", "bob (10.0.0.2:7475)", "rtt", "lost 0 of", "retransmits",
		"sent 3 messages,", "received 2 messages,", "window", "packets up to", "(path MTU)")
}

func TestPlainModeGlyphStopsAtSent(t *testing.T) {
	node := chattest.PlainNode(t, udptest.NewMemNetwork(), "10.0.0.1:7475", "alice")
	node.Connect(bob)
	hs := newHarness(t, node, 80, 50)
	hs.waitFor("PLAIN — not encrypted")
	hs.enter("hi")
	hs.waitFor("✓  alice: hi")
	hs.enter("/help")
	hs.waitFor("plain mode acknowledges nothing")
}

func TestCtrlCLeavesGracefully(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 24)
	join(t, link, bob, "bob")
	hs.waitFor("bob joined")
	hs.press('c', tea.ModCtrl)
	hs.waitQuit()
	if !link.Closed() {
		t.Error("Ctrl+C quit without closing the link: peers would not see us leave")
	}
}

func TestByeSendsWaitsAndLeaves(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 24)
	join(t, link, bob, "bob")
	hs.enter(" Bye ")
	hs.waitFor("leaving: waiting up to 2s for delivery")
	var chats []fakeChat
	hs.waitUntil("bye sent", func(string) bool { chats = chatsSent(t, link); return len(chats) == 1 })
	if chats[0].Text != "Bye" {
		t.Errorf("sent %q, want Bye", chats[0].Text)
	}
	if link.Closed() {
		t.Fatal("left before bye was delivered")
	}
	link.H.Delivered(bob, chats[0].Ref)
	hs.waitQuit()
	if !link.Closed() || hs.m.result.timedOut || len(node.Undelivered()) != 0 {
		t.Errorf("after bye: closed %v, timed out %v, undelivered %v", link.Closed(), hs.m.result.timedOut, node.Undelivered())
	}
}

func TestQuitLeavesWithoutWaiting(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 24)
	join(t, link, bob, "bob")
	hs.enter("/quit")
	hs.waitQuit()
	if !link.Closed() {
		t.Error("/quit did not close the link")
	}
}

func TestNoColor(t *testing.T) {
	node, _ := fakeNode(t, chat.Config{Plain: true})
	for _, noColor := range []bool{false, true} {
		hs := newHarnessOpts(t, node, 80, 24, noColor)
		hs.waitFor("PLAIN — not encrypted")
		content := hs.m.View().Content
		colour := regexp.MustCompile(`\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7]|10[0-7])[;m]`)
		if got := colour.MatchString(content); got == noColor {
			t.Errorf("noColor %v: colour escapes in the view: %v", noColor, got)
		}
		if noColor && !strings.Contains(content, "\x1b[1;7m") && !strings.Contains(content, "\x1b[7;1m") {
			// The warning must still stand out: bold and reversed.
			if !regexp.MustCompile(`\x1b\[[0-9;]*7[0-9;]*m PLAIN`).MatchString(content) {
				t.Errorf("under NO_COLOR the plain warning is not reversed: %q", lineWith(content, "PLAIN"))
			}
		}
	}
	if !noColorEnv([]string{"TERM=xterm", "NO_COLOR=1"}) || noColorEnv([]string{"NO_COLOR="}) || noColorEnv(nil) {
		t.Error("NO_COLOR is read wrong: set and not empty means no colour")
	}
}

func TestLightAndDarkBackgrounds(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 80, 24)
	join(t, link, bob, "bob")
	say(t, link, bob, wire.ChatText, "bob", "colourful")
	hs.waitFor("bob: colourful")
	dark := hs.m.View().Content
	hs.update(tea.BackgroundColorMsg{Color: lightGrey{}})
	light := hs.m.View().Content
	if dark == light || ansi.Strip(dark) != ansi.Strip(light) {
		t.Error("a light background changes nothing, or changes the text")
	}
}

type lightGrey struct{}

func (lightGrey) RGBA() (r, g, b, a uint32) { return 0xeeee, 0xeeee, 0xeeee, 0xffff }
