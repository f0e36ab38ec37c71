package line

import (
	"net/netip"
	"testing"

	"github.com/udpchat/udpchat/internal/link"
)

// A peer that moves (a laptop on another network) is said to, with where
// it went: a notice on stderr, a "moved" event with --json.
func TestPeerMovedIsShown(t *testing.T) {
	for _, tc := range []struct {
		name         string
		json         bool
		joined, said string // the lines that say bob joined and moved
	}{
		{"text", false, "* bob joined (10.0.0.2:7475)", "* bob moved to 10.0.0.99:7475"},
		{"json", true, `{"type":"joined","peer":"10.0.0.2:7475","name":"bob"}`,
			`{"type":"moved","peer":"10.0.0.2:7475","name":"bob","from":"10.0.0.2:7475","to":"10.0.0.99:7475"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aliceNode, aliceLink := fakeNode(t, "alice", "10.0.0.1:7475")
			bob, bobLink := fakeNode(t, "bob", "10.0.0.2:7475")
			closeAtEnd(t, bob)
			alice := run(t, aliceNode, Options{JSON: tc.json})
			news := alice.stderr
			if tc.json {
				news = alice.stdout
			}
			r := startRelay(t, aliceLink, bobLink)
			bob.Connect(aliceLink.Addr)
			bob.Send("hi")
			news.waitFor(t, tc.joined)

			r.do(func() {
				aliceLink.H.(link.Roamer).PeerRoamed(bobLink.Addr, netip.MustParseAddrPort("10.0.0.99:7475"))
			})
			news.waitFor(t, tc.said)
		})
	}
}
