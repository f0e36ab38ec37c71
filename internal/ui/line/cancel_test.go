package line

import (
	"context"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/link/linktest"
	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/udp/udptest"
	"github.com/udpchat/udpchat/internal/wire"
)

// sentID is the ID of the chat message in s.
func sentID(t *testing.T, s linktest.Send) string {
	t.Helper()
	m, err := wire.ParseChat(s.Msg)
	if err != nil {
		t.Fatal(err)
	}
	return chat.MessageID(m.ID).String()
}

// /cancel gives up on the newest message waiting, /cancel ID on that one;
// each says so on stderr, and with nothing left undelivered the end of
// input does not wait.
func TestCancel(t *testing.T) {
	node, link := fakeNode(t, "alice", "10.0.0.1:7475")
	node.Connect(netip.MustParseAddrPort("10.0.0.2:7475")) // nobody there
	s := run(t, node, Options{})
	s.send(t, "/cancel", "one", "two")
	one, two := sentID(t, <-link.Sends), sentID(t, <-link.Sends)
	s.send(t, "/cancel", "/cancel "+one[:5], "/cancel", "/cancel zz")
	s.stderr.waitFor(t, "udpchat: nothing to cancel: none of your messages is waiting for delivery")
	if code := s.eof(t); code != 0 {
		t.Errorf("exit %d with everything cancelled, want 0", code)
	}
	wantLines(t, "stderr", s.stderr,
		"udpchat: listening on 10.0.0.1:7475 as alice",
		"udpchat: nothing to cancel: none of your messages is waiting for delivery",
		`* cancelled `+two[:8]+` "two" to 10.0.0.2:7475: it will not be sent again (1 message still waiting: /cancel again for the newest)`,
		`* cancelled `+one[:8]+` "one" to 10.0.0.2:7475: it will not be sent again`,
		"udpchat: nothing to cancel: none of your messages is waiting for delivery",
		"udpchat: nothing to cancel: none of your messages is waiting for delivery")
}

func TestCancelJSONAndErrors(t *testing.T) {
	node, link := fakeNode(t, "alice", "10.0.0.1:7475")
	node.Connect(netip.MustParseAddrPort("10.0.0.2:7475"))
	s := run(t, node, Options{JSON: true})
	s.send(t, "one")
	one := sentID(t, <-link.Sends)
	s.send(t, "/cancel nothex", "/cancel ff"+one, "/cancel "+one)
	s.stdout.waitFor(t, `{"type":"cancelled","id":"`+one+`","to":"10.0.0.2:7475"}`)
	s.stdout.waitMatch(t, regexp.MustCompile(`^\{"type":"error","error":"/cancel nothex: want the start of a message ID; waiting: `+one[:8]+` \\"one\\""\}$`))
	s.stdout.waitMatch(t, regexp.MustCompile(`^\{"type":"error","error":"/cancel ff`+one+`: want the start of a message ID`))
	if code := s.eof(t); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

func TestCancelInPlainMode(t *testing.T) {
	s := run(t, plainNode(t, udptest.NewMemNetwork(), "10.0.0.1:7475", "alice"), Options{})
	s.send(t, "/cancel")
	s.stderr.waitFor(t, "udpchat: nothing to cancel: plain mode acknowledges nothing, so no message waits for delivery")
}

// With a store, what is not delivered at the end stays in the outbox, and
// the message says so and how to see or cancel it.
func TestEndOfInputSaysTheOutboxKeepsIt(t *testing.T) {
	st, err := store.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	node, link := chattest.NewNode(t, chat.Config{Name: "alice", Store: st}, "10.0.0.1:7475")
	bob := netip.MustParseAddrPort("10.0.0.2:7475")
	node.Connect(bob)
	link.H.PeerUp(bob) // it answered, and then went quiet
	s := run(t, node, Options{Timeout: 50 * time.Millisecond})
	s.send(t, "lost 1", "lost 2")
	if code := s.eof(t); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	wantLines(t, "stderr", s.stderr,
		"udpchat: listening on 10.0.0.1:7475 as alice",
		"udpchat: not delivered within 50ms: 2 messages to 10.0.0.2:7475",
		"udpchat: they stay in the outbox and go when udpchat next starts (on the same data dir); "+
			"'udpchat history --pending' lists them, 'udpchat history --cancel ID' gives one up")
}
