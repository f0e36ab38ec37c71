package tui

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/udpchat/udpchat/internal/chat"
)

// Who is nearby on the LAN has a section of the peers panel until they
// leave or become a peer; Tab completes their names, and /msg picks one.
func TestNearbySection(t *testing.T) {
	node, _ := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 100, 30)
	carolNearby := chat.Nearby{Name: "carol", Fingerprint: "BLAKE2s:CCCC-CCCC-CCCC-CCCC-CCCC-CCCC-CCCC-CCCC", Addr: netip.MustParseAddrPort("192.0.2.7:7475")}
	dave := chat.Nearby{Name: "dave", Fingerprint: "BLAKE2s:DDDD-DDDD-DDDD-DDDD-DDDD-DDDD-DDDD-DDDD", Addr: netip.MustParseAddrPort("192.0.2.8:7475")}
	node.SawNearby(carolNearby)
	node.SawNearby(dave)
	hs.waitFor("Nearby (2)", "◦ carol", "192.0.2.7:7475", "BLAKE2s:CCCC", "◦ dave", "Nearby: carol, dave · /msg NAME TEXT")
	if s := hs.screen(); strings.Contains(s, "Peers (") {
		t.Errorf("an empty Peers section is shown above the nearby:\n%s", s)
	}

	node.NearbyGone(dave.Fingerprint)
	hs.waitFor("Nearby (1)")
	hs.waitGone("◦ dave")

	hs.typeText("/msg c")
	hs.press(tea.KeyTab)
	if got := hs.m.input.Value(); got != "/msg carol " {
		t.Errorf("/msg c + Tab = %q, want /msg carol ", got)
	}
	hs.m.input.Reset()
	hs.enter("/msg carol hello, neighbour")
	hs.waitFor("alice → carol: hello, neighbour")
	hs.waitGone("Nearby (") // carol is a peer now
	hs.settle(50 * time.Millisecond)
	if ps := node.Peers(); len(ps) != 1 || ps[0].Addr != carolNearby.Addr {
		t.Errorf("after /msg carol the peers are %v, want carol's address alone", ps)
	}
}

// /msg to a name neither a peer nor nearby asks Resolve (udpchat's knows
// the known peers), and what it cannot find is the send's error.
func TestMsgToAKnownName(t *testing.T) {
	node, _ := fakeNode(t, chat.Config{})
	hs := newHarness(t, node, 100, 30)
	erin := netip.MustParseAddrPort("198.51.100.5:7475")
	hs.m.opts.Resolve = func(_ context.Context, who string) (netip.AddrPort, error) {
		if who == "erin" {
			return erin, nil
		}
		return netip.AddrPort{}, errors.New("no one called " + who + " is known or nearby")
	}
	hs.enter("/msg erin hello from afar")
	hs.waitFor("alice → erin: hello from afar", "Peers (1)", "198.51.100.5:7475")
	if ps := node.Peers(); len(ps) != 1 || ps[0].Addr != erin {
		t.Errorf("after /msg erin the peers are %v, want erin's address alone", ps)
	}
	hs.enter("/msg frank hi")
	hs.waitFor("no one called frank is known or nearby")
}
