package tui

import (
	"testing"

	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/wire"
)

// /rename calls a person by the name the user gives: in the transcript's
// message prefixes and in /peers, which keeps the name they announce.
func TestRenameShowsTheGivenName(t *testing.T) {
	node, link := chattest.PeopleNode(t, "alice", "10.0.0.1:7475")
	hs := newHarness(t, node, 100, 30)
	join(t, link, carol, "carol")
	hs.waitFor("* carol joined (10.0.0.3:7475)", "● carol") // in the panel: /rename finds her there

	hs.enter("/rename carol caz")
	hs.waitFor("* carol (10.0.0.3:7475) is caz here now")
	say(t, link, carol, wire.ChatText, "carol", "hi")
	hs.waitFor("caz: hi")
	hs.enter("/peers")
	hs.waitFor("caz (calls themselves carol) 10.0.0.3:7475")
}
