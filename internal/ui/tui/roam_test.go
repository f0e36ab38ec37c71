package tui

import (
	"net/netip"
	"testing"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/link"
)

// A peer that moves is shown where it is now: a notice in the transcript,
// its new address in the panel and in /peers; /msg reaches it by that
// address, and the message goes to the same peer.
func TestMovedPeerIsShownWhereItIs(t *testing.T) {
	node, fake := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 100, 30)
	join(t, fake, bob, "bob")
	hs.waitFor("bob joined (10.0.0.2:7475)", "● bob")

	moved := netip.MustParseAddrPort("10.0.0.99:7475")
	fake.H.(link.Roamer).PeerRoamed(bob, moved)
	hs.waitFor("bob moved to 10.0.0.99:7475")
	hs.enter("/clear") // the transcript names the old address: the panel alone is left
	hs.waitFor("10.0.0.99:7475")
	hs.waitGone("10.0.0.2:7475")
	hs.enter("/peers")
	hs.waitFor("bob 10.0.0.99:7475  online")

	hs.enter("/msg 10.0.0.99:7475 where are you?")
	hs.waitFor("alice → bob: where are you?")
	hs.waitUntil("the message given to the link", func(string) bool { return len(chatsSent(t, fake)) > 0 })
	if chats := chatsSent(t, fake); len(chats) != 1 || chats[0].Peer != bob {
		t.Fatalf("sent %+v, want one message to bob, by the address he goes by", chats)
	}
}
