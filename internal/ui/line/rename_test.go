package line

import (
	"net/netip"
	"testing"

	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/wire"
)

// /rename in line mode: the person's messages print under the given name.
func TestRenamePrintsTheGivenName(t *testing.T) {
	node, link := chattest.PeopleNode(t, "alice", "10.0.0.1:7475")
	carol := netip.MustParseAddrPort("10.0.0.3:7475")
	s := run(t, node, Options{})
	s.send(t, "/rename carol caz")
	s.stderr.waitFor(t, `udpchat: no peer is called "carol": /peers lists them`)

	receive := func(m wire.ChatMessage) {
		t.Helper()
		b, err := wire.AppendChat(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		if err := link.H.Receive(carol, b); err != nil {
			t.Fatal(err)
		}
	}
	link.H.PeerUp(carol)
	receive(wire.ChatMessage{Kind: wire.ChatHello, Name: "carol"})
	s.send(t, "/rename carol caz")
	s.stderr.waitFor(t, "* carol (10.0.0.3:7475) is caz here now")
	receive(wire.ChatMessage{Kind: wire.ChatText, ID: [16]byte{1}, Name: "carol", Text: "hi"})
	s.stdout.waitFor(t, "caz: hi")
}
