package tui

import (
	"regexp"
	"testing"

	"github.com/udpchat/udpchat/internal/chat"
)

// /forget asks first; the same /forget again drops the peer and cancels
// what waits for it (issue 16, item 11).
func TestForgetAsksThenForgets(t *testing.T) {
	node, link := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 100, 24)
	join(t, link, bob, "bob")
	join(t, link, carol, "carol")
	hs.waitFor("bob joined", "carol joined", "Peers (2)")
	hs.enter("still there?")
	hs.waitUntil("still there? sent (✓)", func(s string) bool {
		return regexp.MustCompile(`✓ +alice: still there\?`).MatchString(lineWith(s, "alice: still there?"))
	})

	hs.enter("/forget bob")
	hs.waitFor("forget bob (10.0.0.2:7475), and cancel every message waiting", "/forget bob again to confirm")
	if len(node.Peers()) != 2 {
		t.Fatal("/forget dropped the peer before it was confirmed")
	}
	hs.enter("/forget bob")
	hs.waitFor("forgot bob (10.0.0.2:7475): 1 message to it cancelled", "Peers (1)")
	if ps := node.Peers(); len(ps) != 1 || ps[0].Addr != carol {
		t.Fatalf("peers after /forget bob: %+v", ps)
	}
}
