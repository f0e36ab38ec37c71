package line

import (
	"context"
	"encoding/json"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/link/linktest"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

const plainWarning = PlainWarning

func TestPlainChatBothWaysAndBye(t *testing.T) {
	mn := udptest.NewMemNetwork()
	alice := run(t, plainNode(t, mn, "10.0.0.1:7475", "alice"), Options{})
	bobNode := plainNode(t, mn, "10.0.0.2:7475", "bob")
	if err := bobNode.Connect(netip.MustParseAddrPort("10.0.0.1:7475")); err != nil {
		t.Fatal(err)
	}
	bob := run(t, bobNode, Options{})

	bob.send(t, "hello alice", "there?")
	alice.stdout.waitFor(t, "bob: there?")
	alice.send(t, "hi bob") // bob wrote to her twice: he is in her conversation
	bob.stdout.waitFor(t, "alice: hi bob")
	bob.send(t, "goodbye", "existing", "", "  Bye  ")
	if code := bob.wait(t); code != 0 {
		t.Errorf("bob exited %d after bye, want 0", code)
	}
	alice.stdout.waitFor(t, "bob: Bye")
	if code := alice.eof(t); code != 0 {
		t.Errorf("alice exited %d at end of input, want 0", code)
	}

	wantLines(t, "alice stdout", alice.stdout, "bob: hello alice", "bob: there?", "bob: goodbye", "bob: existing", "bob: Bye")
	wantLines(t, "alice stderr", alice.stderr,
		"udpchat: listening on 10.0.0.1:7475 as alice", plainWarning, "* bob joined (10.0.0.2:7475)", "* bob left")
	wantLines(t, "bob stdout", bob.stdout, "alice: hi bob")
	wantLines(t, "bob stderr", bob.stderr,
		"udpchat: listening on 10.0.0.2:7475 as bob", plainWarning, "* alice joined (10.0.0.1:7475)")
}

func wantLines(t *testing.T, what string, l *lines, want ...string) {
	t.Helper()
	if got := l.snapshot(); !slices.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOutputCannotDriveTheTerminal(t *testing.T) {
	mn := udptest.NewMemNetwork()
	alice := run(t, plainNode(t, mn, "10.0.0.1:7475", "alice"), Options{})
	evil, err := mn.Listen(netip.MustParseAddrPort("10.0.0.9:7475"))
	if err != nil {
		t.Fatal(err)
	}
	defer evil.Close()
	for _, d := range []string{
		"evil:hi\x1b[2J\r\nalice: fake\u202etxt\tok\xff\n",
		"\x1b]0;pwned\x07:x",
		`evil:typed \x1b[2J \n C:\dir`,
	} {
		if _, err := evil.WriteTo([]byte(d), netip.MustParseAddrPort("10.0.0.1:7475")); err != nil {
			t.Fatal(err)
		}
	}
	alice.stdout.waitFor(t, `evil: typed \\x1b[2J \\n C:\\dir`)
	alice.eof(t)
	wantLines(t, "stdout", alice.stdout,
		`evil: hi\x1b[2J\r\nalice: fake\u202etxt`+"\t"+`ok\xff`,
		`\x1b]0;pwned\x07: x`,
		// What a peer typed reads apart from what was escaped.
		`evil: typed \\x1b[2J \\n C:\\dir`)
	wantLines(t, "stderr", alice.stderr,
		"udpchat: listening on 10.0.0.1:7475 as alice", plainWarning,
		"* evil joined (10.0.0.9:7475)", `* evil is now known as \x1b]0;pwned\x07`, `* \x1b]0;pwned\x07 is now known as evil`)
}

func TestEndOfInputWaitsForDelivery(t *testing.T) {
	node, link := fakeNode(t, "alice", "10.0.0.1:7475")
	bob := netip.MustParseAddrPort("10.0.0.2:7475")
	node.Connect(bob)
	s := run(t, node, Options{})
	s.send(t, "a", "b", "c")
	s.stdin.Close()
	var sends []linktest.Send
	for range 3 {
		sends = append(sends, <-link.Sends)
	}
	select {
	case code := <-s.exit:
		t.Fatalf("Run returned %d with nothing delivered yet", code)
	default: // it cannot return before Delivered: the timeout is 10s
	}
	for _, sd := range sends {
		link.H.Delivered(sd.Peer, sd.Ref)
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	wantLines(t, "stdout", s.stdout)
	wantLines(t, "stderr", s.stderr, "udpchat: listening on 10.0.0.1:7475 as alice")
}

// A wait for delivery that lasts is said once, with whom it waits for and
// for how long, rather than a silence as long as --timeout.
func TestEndOfInputSaysWhatItWaitsFor(t *testing.T) {
	defer func(d time.Duration) { waitNoticeAfter = d }(waitNoticeAfter)
	waitNoticeAfter = time.Millisecond
	node, link := fakeNode(t, "alice", "10.0.0.1:7475")
	node.Connect(netip.MustParseAddrPort("10.0.0.3:7475"))
	s := run(t, node, Options{Timeout: time.Minute})
	s.send(t, "a", "b")
	s.stdin.Close()
	sends := []linktest.Send{<-link.Sends, <-link.Sends}
	s.stderr.waitFor(t, "udpchat: waiting up to 1m0s for delivery: 2 messages to 10.0.0.3:7475 (Ctrl+C stops waiting)")
	for _, sd := range sends {
		link.H.Delivered(sd.Peer, sd.Ref)
	}
	if code := s.wait(t); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	wantLines(t, "stderr", s.stderr, "udpchat: listening on 10.0.0.1:7475 as alice",
		"udpchat: waiting up to 1m0s for delivery: 2 messages to 10.0.0.3:7475 (Ctrl+C stops waiting)")
}

func TestEndOfInputReportsWhatWasNotDelivered(t *testing.T) {
	aliceNode, aliceLink := fakeNode(t, "alice", "10.0.0.1:7475")
	bob, bobLink := fakeNode(t, "bob", "10.0.0.2:7475")
	closeAtEnd(t, bob)
	alice := run(t, aliceNode, Options{Timeout: 50 * time.Millisecond})
	r := startRelay(t, aliceLink, bobLink)
	bob.Connect(aliceLink.Addr)
	bob.Send("hi")
	alice.stdout.waitFor(t, "bob: hi")

	r.holdAcks(aliceLink)
	aliceNode.Connect(netip.MustParseAddrPort("10.0.0.3:7475")) // nobody there
	alice.send(t, "lost 1", "lost 2")
	if code := alice.eof(t); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	wantLines(t, "stderr", alice.stderr,
		"udpchat: listening on 10.0.0.1:7475 as alice",
		"* bob joined (10.0.0.2:7475)",
		"udpchat: no one answered at 10.0.0.3:7475 (is udpchat running there?); nothing is kept for it",
		"udpchat: not delivered within 50ms: 2 messages to bob (10.0.0.2:7475), 2 messages to 10.0.0.3:7475")
}

func TestLongLinesAreRefusedNotCutOrSplit(t *testing.T) {
	aliceNode, aliceLink := fakeNode(t, "alice", "10.0.0.1:7475")
	bob, bobLink := fakeNode(t, "bob", "10.0.0.2:7475")
	closeAtEnd(t, bob)
	aliceNode.Connect(bobLink.Addr)
	alice := run(t, aliceNode, Options{})
	startRelay(t, aliceLink, bobLink)

	longest := strings.Repeat("é", chat.MaxTextLen/2)
	alice.send(t, longest+"x", "caf\xe9", longest, "after")
	alice.stderr.waitFor(t, "* bob joined (10.0.0.2:7475)") // his answer to the first message sent
	// The rest is delivered, and still the exit code says that not every
	// line was sent.
	if code := alice.eof(t); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	wantLines(t, "stderr", alice.stderr,
		"udpchat: listening on 10.0.0.1:7475 as alice",
		"udpchat: line not sent: it is longer than 262144 bytes (256 KiB), the most one message can hold",
		"udpchat: line not sent: message is not valid UTF-8 text",
		"* bob joined (10.0.0.2:7475)",
		"udpchat: 2 lines of input not sent (see above)")
	if ev := nextEvent(t, bob); ev != (chat.Joined{Peer: aliceLink.Addr, Name: "alice"}) {
		t.Fatalf("bob's first event %#v, want alice joining", ev)
	}
	for _, want := range []string{longest, "after"} {
		if m, ok := nextEvent(t, bob).(chat.Message); !ok || m.Text != want {
			t.Fatalf("bob got %#v, want a message of %d bytes", m, len(want))
		}
	}
}

func TestPlainLineOverOneDatagramIsNotSent(t *testing.T) {
	mn := udptest.NewMemNetwork()
	aliceNode := plainNode(t, mn, "10.0.0.1:7475", "alice")
	bob := run(t, plainNode(t, mn, "10.0.0.2:7475", "bob"), Options{})
	if err := aliceNode.Connect(netip.MustParseAddrPort("10.0.0.2:7475")); err != nil {
		t.Fatal(err)
	}
	alice := run(t, aliceNode, Options{})

	alice.send(t, strings.Repeat("x", 1195), "fits")
	bob.stdout.waitFor(t, "alice: fits")
	if code := alice.eof(t); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	wantLines(t, "bob stdout", bob.stdout, "alice: fits")
	wantLines(t, "alice stderr", alice.stderr,
		"udpchat: listening on 10.0.0.1:7475 as alice", plainWarning,
		"udpchat: line not sent: too long for plain mode: name:text would be 1201 bytes, and plain mode sends each message as one datagram of at most 1024 bytes, what the peer reads (--plain-max); shorten it or split it",
		"udpchat: 1 line of input not sent (see above)")
}

func TestCommands(t *testing.T) {
	aliceNode, aliceLink := fakeNode(t, "alice", "10.0.0.1:7475")
	bob, bobLink := fakeNode(t, "bob", "10.0.0.2:7475")
	closeAtEnd(t, bob)
	aliceNode.Connect(bobLink.Addr)
	alice := run(t, aliceNode, Options{})
	startRelay(t, aliceLink, bobLink)

	alice.send(t, "/me waves", "/ME", "/nick", "/nick alicia", "/nick a:b", "//slash", "/bogus x", "/help",
		"/help part", "/help /PEERS", "/help meow", "/connect 10.0.0.3:7475", "/connect nowhere")
	alice.stderr.waitFor(t, "udpchat: /connect nowhere: want IP:PORT, e.g. 192.0.2.7:7475")
	for _, want := range []chat.Event{
		chat.Joined{Peer: aliceLink.Addr, Name: "alice"},
		chat.Message{From: aliceLink.Addr, Name: "alice", Text: "waves", Action: true},
		chat.Renamed{Peer: aliceLink.Addr, OldName: "alice", Name: "alicia"},
		chat.Message{From: aliceLink.Addr, Name: "alicia", Text: "/slash"},
	} {
		got := nextEvent(t, bob)
		if m, ok := got.(chat.Message); ok {
			m.ID, m.At = chat.MessageID{}, time.Time{}
			got = m
		}
		if got != want {
			t.Fatalf("bob got %#v, want %#v", got, want)
		}
	}
	// /quit does not wait: what is undelivered then makes the exit code 1.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := aliceNode.WaitDelivered(ctx); err != nil {
		t.Fatal(err)
	}
	alice.send(t, "/quit", "never sent")
	if code := alice.wait(t); code != 0 {
		t.Errorf("exit %d after /quit, want 0", code)
	}

	if p := aliceNode.Peers(); len(p) != 2 || p[1].Addr != netip.MustParseAddrPort("10.0.0.3:7475") {
		t.Errorf("alice's peers %+v, want bob and 10.0.0.3:7475", p)
	}
	want := []string{
		"udpchat: listening on 10.0.0.1:7475 as alice",
		"udpchat: /me needs an action, e.g. /me waves",
		"* you are alice; /nick NAME changes it",
		"* you are now known as alicia",
		`udpchat: name "a:b" contains a colon, which separates name from text in plain mode`,
		"udpchat: unknown command /bogus (nothing sent); /help lists the commands, and //bogus sends the text /bogus",
	}
	want = append(want, strings.Split(strings.TrimSuffix(help, "\n"), "\n")...)
	want = append(want, "  /part           leave the current room's conversation (lines go to the peers again)",
		"udpchat: /peers works in the terminal UI only; /help lists the commands of line mode",
		"udpchat: no command /meow; /help lists them")
	want = append(want, "udpchat: /connect nowhere: want IP:PORT, e.g. 192.0.2.7:7475")
	// Bob introduced himself when alice's first message reached him.
	got := slices.DeleteFunc(alice.stderr.snapshot(), func(l string) bool { return l == "* bob joined (10.0.0.2:7475)" })
	if !slices.Equal(got, want) {
		t.Errorf("stderr:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestJSONEvents(t *testing.T) {
	aliceNode, aliceLink := fakeNode(t, "alice", "10.0.0.1:7475")
	bob, bobLink := fakeNode(t, "bob", "10.0.0.2:7475")
	closeAtEnd(t, bob)
	alice := run(t, aliceNode, Options{JSON: true})
	r := startRelay(t, aliceLink, bobLink)

	bob.Connect(aliceLink.Addr)
	bob.Send("hi <3")
	alice.stdout.waitFor(t, `{"type":"joined","peer":"10.0.0.2:7475","name":"bob"}`)
	alice.send(t, "yo")
	alice.stdout.waitMatch(t, regexp.MustCompile(`^\{"type":"delivered",`))
	// bob has consumed "yo", so also the features alice sent before it:
	// he knows she shows a message to her alone as such.
	bob.SendTo(aliceLink.Addr, "psst")
	alice.stdout.waitMatch(t, regexp.MustCompile(`^\{"type":"message","id":"[0-9a-f]+","from":"10.0.0.2:7475","name":"bob","text":"psst","direct":true,`))
	alice.send(t, "/bogus")
	alice.stdout.waitMatch(t, regexp.MustCompile(`^\{"type":"error","error":"unknown command /bogus`))
	alice.send(t, "/nick alicia", "/nick")
	alice.stdout.waitFor(t, `{"type":"nick","old_name":"alice","name":"alicia"}`)
	alice.stdout.waitFor(t, `{"type":"nick","name":"alicia"}`)
	bob.SetName("robert")
	alice.stdout.waitFor(t, `{"type":"renamed","peer":"10.0.0.2:7475","old_name":"bob","name":"robert"}`)
	r.do(func() {
		aliceLink.H.PeerUnreachable(bobLink.Addr)
		aliceLink.H.PeerReachable(bobLink.Addr)
		aliceLink.H.PeerClosed(bobLink.Addr)
	})
	if code := alice.eof(t); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}

	var types []string
	ids := make(map[string]string) // type -> id
	for _, l := range alice.stdout.snapshot() {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v", l, err)
		}
		typ := ev["type"].(string)
		types = append(types, typ)
		switch typ {
		case "message":
			if ev["name"] != "bob" || (ev["text"] != "hi <3" || ev["direct"] != nil) && (ev["text"] != "psst" || ev["direct"] != true) ||
				ev["from"] != "10.0.0.2:7475" {
				t.Errorf("message %v", ev)
			}
			if _, err := time.Parse(time.RFC3339, ev["time"].(string)); err != nil {
				t.Errorf("message time: %v", err)
			}
		case "sent":
			if ev["to"] != "10.0.0.2:7475" || ev["text"] != "yo" {
				t.Errorf("sent %v", ev)
			}
		case "delivered":
			if ev["to"] != "10.0.0.2:7475" {
				t.Errorf("delivered %v", ev)
			}
		case "error":
			if !strings.HasPrefix(ev["error"].(string), "unknown command /bogus") {
				t.Errorf("error %v", ev)
			}
		}
		if id, ok := ev["id"].(string); ok {
			if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
				t.Errorf("%s id %q is not 32 hex digits", typ, id)
			}
			ids[typ] = id
		}
	}
	if ids["sent"] != ids["delivered"] {
		t.Errorf("sent id %s, delivered id %s: want the same message", ids["sent"], ids["delivered"])
	}
	want := []string{"joined", "message", "sent", "delivered", "message", "error", "nick", "nick", "renamed", "unreachable", "reachable", "left"}
	if !slices.Equal(types, want) {
		t.Errorf("event types %q, want %q", types, want)
	}
	wantLines(t, "stderr", alice.stderr, "udpchat: listening on 10.0.0.1:7475 as alice")
}

// A message sent to us alone (/msg) says so, in the NAME part of the line.
func TestDirectMessageIsMarked(t *testing.T) {
	aliceNode, aliceLink := fakeNode(t, "alice", "10.0.0.1:7475")
	bob, bobLink := fakeNode(t, "bob", "10.0.0.2:7475")
	closeAtEnd(t, bob)
	alice := run(t, aliceNode, Options{})
	startRelay(t, aliceLink, bobLink)
	bob.Connect(aliceLink.Addr)
	bob.Send("to all")
	alice.stdout.waitFor(t, "bob: to all")
	alice.send(t, "hi bob")
	// The relay keeps order: bob has alice's features, sent before her
	// message, so his /msg goes marked at once rather than waiting for them.
	for {
		if m, ok := nextEvent(t, bob).(chat.Message); ok && m.Text == "hi bob" {
			break
		}
	}
	bob.SendTo(aliceLink.Addr, "just you")
	alice.stdout.waitFor(t, "bob → you: just you")
	alice.eof(t)
	wantLines(t, "stdout", alice.stdout, "bob: to all", "bob → you: just you")
}

func TestInterruptLeavesGracefully(t *testing.T) {
	node, link := fakeNode(t, "alice", "10.0.0.1:7475")
	s := run(t, node, Options{})
	s.cancel()
	if code := s.wait(t); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	select {
	case <-link.Done():
	default:
		t.Error("Run returned without closing the node")
	}
}

func TestSendingWithNoPeersSaysWhatToDo(t *testing.T) {
	node, _ := fakeNode(t, "alice", "10.0.0.1:7475")
	s := run(t, node, Options{})
	s.send(t, "anyone?")
	// Nothing went anywhere: a script must not take that for success.
	if code := s.eof(t); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	wantLines(t, "stderr", s.stderr, "udpchat: listening on 10.0.0.1:7475 as alice",
		"udpchat: line not sent: "+chat.ErrNoPeers.Error(),
		"udpchat: 1 line of input not sent (see above)")
}

func TestQuitSaysWhatWasNotDelivered(t *testing.T) {
	node, _ := fakeNode(t, "alice", "10.0.0.1:7475")
	node.Connect(netip.MustParseAddrPort("10.0.0.2:7475"))
	s := run(t, node, Options{})
	s.send(t, "unanswered", "/quit")
	if code := s.wait(t); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	wantLines(t, "stderr", s.stderr,
		"udpchat: listening on 10.0.0.1:7475 as alice",
		"udpchat: no one answered at 10.0.0.2:7475 (is udpchat running there?); nothing is kept for it",
		"udpchat: not delivered before leaving: 1 message to 10.0.0.2:7475")
}

// On an encrypted link the joined line names the peer's key, for the user
// to compare with what the peer's udpchat id prints; --json carries it too.
func TestJoinedShowsTheFingerprint(t *testing.T) {
	const fp = "BLAKE2s:IP35-TCWW-7QXK-M4ZD-2B6N-HJ3R-LV5S-QAEY"
	bob := netip.MustParseAddrPort("10.0.0.2:7475")
	for _, tc := range []struct {
		ev         chat.Joined
		text, json string
	}{
		{chat.Joined{Peer: bob, Name: "bob", Fingerprint: fp},
			"* bob joined (10.0.0.2:7475, key " + fp + ")\n",
			`{"type":"joined","peer":"10.0.0.2:7475","name":"bob","fingerprint":"` + fp + `"}` + "\n"},
		{chat.Joined{Peer: bob, Name: "bob"},
			"* bob joined (10.0.0.2:7475)\n",
			`{"type":"joined","peer":"10.0.0.2:7475","name":"bob"}` + "\n"},
		{chat.Joined{Peer: bob, Name: "bob", Fingerprint: "BLAKE2s:\x1b]0;pwned\x07"},
			"* bob joined (10.0.0.2:7475, key BLAKE2s:\\x1b]0;pwned\\x07)\n", ""},
	} {
		wantShown(t, tc.ev, tc.text, tc.json)
	}
}

// wantShown checks that ev prints as text on stderr in text mode and, if
// json is not "", as json on stdout with --json.
func wantShown(t *testing.T, ev chat.Event, text, json string) {
	t.Helper()
	var stdout, stderr strings.Builder
	newOutput(&stdout, &stderr, false).event(ev)
	if stderr.String() != text || stdout.Len() != 0 {
		t.Errorf("%+v in text mode: stderr %q, stdout %q; want stderr %q", ev, stderr.String(), stdout.String(), text)
	}
	if json == "" {
		return
	}
	stdout.Reset()
	stderr.Reset()
	newOutput(&stdout, &stderr, true).event(ev)
	if stdout.String() != json || stderr.Len() != 0 {
		t.Errorf("%+v in JSON: stdout %q, stderr %q; want stdout %q", ev, stdout.String(), stderr.String(), json)
	}
}
