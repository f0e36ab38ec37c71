package command

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/udpchat/udpchat/internal/chat"
)

// A peer that moved is found by the address it goes by and by the one the
// UIs show, and named by the latter; a third address is no one's.
func TestFindPeerThatMoved(t *testing.T) {
	bob := chat.PeerInfo{Addr: netip.MustParseAddrPort("10.0.0.2:7475"), Name: "bob",
		Endpoint: netip.MustParseAddrPort("10.0.0.99:7475")}
	peers := []chat.PeerInfo{{Addr: netip.MustParseAddrPort("10.0.0.3:7475"), Name: "carol"}, bob}
	for _, who := range []string{"Bob", "10.0.0.2:7475", "10.0.0.99:7475", "[::ffff:10.0.0.99]:7475"} {
		if p, err := FindPeer(peers, who); err != nil || p != bob {
			t.Errorf("FindPeer(%q) = %+v, %v; want bob", who, p, err)
		}
	}
	if p, err := FindPeer(peers, "10.0.0.4:7475"); !errors.Is(err, chat.ErrUnknownPeer) {
		t.Errorf("FindPeer(10.0.0.4:7475) = %+v, %v; want no one", p, err)
	}
	if got, want := PeerName(bob), "bob (10.0.0.99:7475)"; got != want {
		t.Errorf("PeerName = %q, want %q", got, want)
	}
}
