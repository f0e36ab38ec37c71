package tui

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"go.uber.org/goleak"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/link/linktest"
	"github.com/udpchat/udpchat/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitTimeout bounds every wait in these tests; none should come near it.
const waitTimeout = 5 * time.Second

// harness drives a model the way Bubble Tea does: one message at a time
// through Update, each Cmd on its own goroutine, its message fed back in.
// The test goroutine is the one that calls Update, so the model needs no
// locks, as in a real program.
type harness struct {
	t    *testing.T
	m    *model
	msgs chan tea.Msg
	done chan struct{}
	wg   sync.WaitGroup
	quit bool     // the model asked to quit
	raw  []string // what the model wrote to the terminal itself (tea.Raw): the bell
}

// newHarness starts a model on node in a w×h terminal. The node is closed
// at the end of the test.
func newHarness(t *testing.T, node *chat.Node, w, h int) *harness {
	t.Helper()
	return newHarnessOpts(t, node, w, h, false)
}

func newHarnessOpts(t *testing.T, node *chat.Node, w, h int, noColor bool) *harness {
	t.Helper()
	hs := &harness{
		t:    t,
		m:    newModel(context.Background(), node, Options{Timeout: 2 * time.Second}, noColor),
		msgs: make(chan tea.Msg, 64),
		done: make(chan struct{}),
	}
	t.Cleanup(func() {
		node.Close(context.Background()) // ends the events Cmd
		close(hs.done)
		hs.wg.Wait()
	})
	hs.run(hs.m.Init())
	hs.update(tea.WindowSizeMsg{Width: w, Height: h})
	return hs
}

func (hs *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	hs.wg.Add(1)
	go func() {
		defer hs.wg.Done()
		hs.deliver(cmd())
	}()
}

func (hs *harness) deliver(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
		return
	case tea.BatchMsg:
		for _, c := range msg {
			hs.run(c)
		}
		return
	}
	select {
	case hs.msgs <- msg:
	case <-hs.done:
	}
}

// update feeds msg to the model now.
func (hs *harness) update(msg tea.Msg) {
	switch msg := msg.(type) {
	case tea.QuitMsg:
		hs.quit = true
		return
	case tea.RawMsg:
		hs.raw = append(hs.raw, fmt.Sprint(msg.Msg))
		return
	}
	_, cmd := hs.m.Update(msg)
	hs.run(cmd)
}

// screen is what the terminal shows, without colours.
func (hs *harness) screen() string { return ansi.Strip(hs.m.View().Content) }

// waitFor processes messages until the screen shows all of want.
func (hs *harness) waitFor(want ...string) {
	hs.t.Helper()
	hs.waitUntil(strings.Join(want, " and "), func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
}

// waitGone processes messages until the screen no longer shows gone.
func (hs *harness) waitGone(gone string) {
	hs.t.Helper()
	hs.waitUntil("no "+gone, func(s string) bool { return !strings.Contains(s, gone) })
}

func (hs *harness) waitUntil(what string, ok func(screen string) bool) {
	hs.t.Helper()
	deadline := time.After(waitTimeout)
	for !ok(hs.screen()) {
		select {
		case msg := <-hs.msgs:
			hs.update(msg)
		case <-deadline:
			hs.t.Fatalf("screen never showed %s; it shows:\n%s", what, hs.screen())
		}
	}
}

// waitQuit processes messages until the model quits.
func (hs *harness) waitQuit() {
	hs.t.Helper()
	deadline := time.After(waitTimeout)
	for !hs.quit {
		select {
		case msg := <-hs.msgs:
			hs.update(msg)
		case <-deadline:
			hs.t.Fatalf("the model did not quit; the screen shows:\n%s", hs.screen())
		}
	}
}

// settle processes what is ready, waiting for more up to d.
func (hs *harness) settle(d time.Duration) {
	deadline := time.After(d)
	for {
		select {
		case msg := <-hs.msgs:
			hs.update(msg)
		case <-deadline:
			return
		}
	}
}

// typeText types s, one key at a time.
func (hs *harness) typeText(s string) {
	for _, r := range s {
		hs.update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// press presses a special key (tea.KeyEnter, …), with modifiers if given.
func (hs *harness) press(code rune, mod ...tea.KeyMod) {
	k := tea.KeyPressMsg{Code: code}
	for _, m := range mod {
		k.Mod |= m
	}
	hs.update(k)
}

// enter types line and presses Enter.
func (hs *harness) enter(line string) {
	hs.typeText(line)
	hs.press(tea.KeyEnter)
}

// chatsSent returns the chat messages (not hellos, nor features) link was
// given so far.
func chatsSent(t *testing.T, link *linktest.Link) []fakeChat {
	t.Helper()
	var out []fakeChat
	for _, s := range link.Sent() {
		m, err := wire.ParseChat(s.Msg)
		if err != nil {
			t.Fatalf("the node sent an undecodable payload: %v", err)
		}
		if m.Kind != wire.ChatHello && m.Kind != wire.ChatFeatures {
			out = append(out, fakeChat{s, m})
		}
	}
	return out
}

type fakeChat struct {
	linktest.Send
	wire.ChatMessage
}

// fakeNode returns a reliable-mode node named alice (unless cfg names
// another) at 10.0.0.1:7475 on a fake link (linktest.Link).
func fakeNode(t *testing.T, cfg chat.Config) (*chat.Node, *linktest.Link) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "alice"
	}
	return chattest.NewNode(t, cfg, "10.0.0.1:7475")
}

var (
	bob   = netip.MustParseAddrPort("10.0.0.2:7475")
	carol = netip.MustParseAddrPort("10.0.0.3:7475")
)

// join plays a peer of this version introducing itself as name (a session
// starts, a hello and its features arrive), as the link would.
func join(t *testing.T, link *linktest.Link, peer netip.AddrPort, name string) {
	t.Helper()
	link.H.PeerUp(peer)
	say(t, link, peer, wire.ChatHello, name, "")
	say(t, link, peer, wire.ChatFeatures, name, wire.FeatureDirect) // a peer of this version
}

// say plays peer sending a chat message.
func say(t *testing.T, link *linktest.Link, peer netip.AddrPort, kind wire.ChatKind, name, text string) {
	t.Helper()
	var id chat.MessageID
	rand.Read(id[:])
	payload, err := wire.AppendChat(nil, wire.ChatMessage{Kind: kind, ID: id, Name: name, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	if err := link.H.Receive(peer, payload); err != nil {
		t.Fatal(err)
	}
}

// lines splits a screen into its lines.
func lines(screen string) []string { return strings.Split(screen, "\n") }

// lineWith returns the first line of screen containing s, or "".
func lineWith(screen, s string) string {
	for _, l := range lines(screen) {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
